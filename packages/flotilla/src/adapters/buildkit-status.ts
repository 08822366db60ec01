import protobuf from "protobufjs";

/**
 * BuildKit's progress through the Engine API: `{"id":"moby.buildkit.trace","aux":"<base64>"}`
 * events whose payload is a `moby.buildkit.v1.StatusResponse` (REGISTRIES C2). Decoded with
 * protobufjs from the few fields flotilla reads — each step ("vertex": digest, name, error) and
 * the output of the step's process (logs) — declared here in protobufjs' JSON form, with the field
 * numbers of BuildKit's control.proto; protobuf decoding skips the fields not declared.
 *
 * Not dockerode's `followProgress` decoder: it prints a step's name only while the step is
 * running, so a step that starts and fails in one status message (a `COPY` of a missing file)
 * is never named, and its `ERROR:` lines do not say which step failed.
 */
const root = protobuf.Root.fromJSON({
  nested: {
    StatusResponse: {
      fields: {
        vertexes: { rule: "repeated", type: "Vertex", id: 1 },
        logs: { rule: "repeated", type: "VertexLog", id: 3 },
      },
    },
    Vertex: {
      fields: {
        digest: { type: "string", id: 1 },
        name: { type: "string", id: 3 },
        error: { type: "string", id: 7 },
      },
    },
    VertexLog: {
      fields: {
        vertex: { type: "string", id: 1 },
        msg: { type: "bytes", id: 4 },
      },
    },
  },
});
const StatusResponse = root.lookupType("StatusResponse");

interface Status {
  vertexes?: { digest?: string; name?: string; error?: string }[];
  logs?: { vertex?: string; msg?: Uint8Array }[];
}

/** The Dockerfile step of a vertex name: "[2/3] RUN …" or "[build 2/3] RUN …" → "RUN …"; other names ("[internal] load …") as they are. */
export function stepOf(vertexName: string): string {
  return /^\[(?:[^\]]* )?\d+\/\d+\] (.*)$/s.exec(vertexName)?.[1]?.trim() ?? vertexName;
}

/** Follows one BuildKit build's status events: which step failed, and each line a step printed. */
export class BuildkitProgress {
  /** The step whose vertex carried an error (the first one), if any. */
  failedStep: string | undefined;
  private readonly names = new Map<string, string>();
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(onLine?: (line: string) => void) {
    this.onLine = onLine;
  }

  /** Reads one progress event; false when it is not BuildKit's status. */
  read(e: { id?: string; aux?: unknown }): boolean {
    if (e.id !== "moby.buildkit.trace" || typeof e.aux !== "string") return false;
    const status = StatusResponse.decode(Buffer.from(e.aux, "base64")) as unknown as Status;
    for (const v of status.vertexes ?? []) {
      if (v.digest && v.name) this.names.set(v.digest, v.name);
      if (v.error && this.failedStep === undefined) this.failedStep = stepOf(v.name || this.names.get(v.digest ?? "") || "");
    }
    for (const l of status.logs ?? []) {
      const text = Buffer.from(l.msg ?? []).toString("utf8");
      if (text) this.onLine?.(text);
    }
    return true;
  }
}
