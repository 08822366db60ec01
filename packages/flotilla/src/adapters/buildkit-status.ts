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
  private readonly names = new Map<string, string>();
  /** Vertices that reported an error, in order (digest, error). */
  private readonly errors: { digest: string; error: string }[] = [];
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(onLine?: (line: string) => void) {
    this.onLine = onLine;
  }

  /**
   * The step that failed: the first vertex whose error is not a cancellation (when one step
   * fails, BuildKit cancels the steps running beside it, and their "context canceled" may arrive
   * first), named from every status read so far (a name may come after its error).
   */
  get failedStep(): string | undefined {
    const failed = this.errors.find((e) => !/context canceled$/i.test(e.error)) ?? this.errors[0];
    const name = failed && this.names.get(failed.digest);
    return name ? stepOf(name) : undefined;
  }

  /** Reads one progress event; false when it is not BuildKit's status. A message that does not decode is skipped. */
  read(e: { id?: string; aux?: unknown }): boolean {
    if (e.id !== "moby.buildkit.trace" || typeof e.aux !== "string") return false;
    let status: Status;
    try {
      status = StatusResponse.decode(Buffer.from(e.aux, "base64")) as unknown as Status;
    } catch {
      return true; // progress only: the build's outcome comes in its own events
    }
    for (const v of status.vertexes ?? []) {
      if (v.digest && v.name) this.names.set(v.digest, v.name);
      if (v.digest && v.error) this.errors.push({ digest: v.digest, error: v.error });
    }
    for (const l of status.logs ?? []) {
      const text = Buffer.from(l.msg ?? []).toString("utf8");
      if (text) this.onLine?.(text);
    }
    return true;
  }
}
