/**
 * BuildKit's progress as flotilla reads it (adapters/buildkit-status.ts): the messages are encoded
 * here with dockerode's copy of BuildKit's status schema, so the field numbers flotilla declares
 * are checked against an independent source. End to end, the images tests build with the real
 * daemon; these are the orders of messages a build does not produce on demand.
 */
import { createRequire } from "node:module";
import path from "node:path";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { BuildkitProgress, stepOf } from "../src/adapters/buildkit-status.ts";

const proto = path.join(path.dirname(createRequire(import.meta.url).resolve("dockerode")), "proto", "buildkit_status.proto");
const StatusResponse = protobuf.loadSync(proto).lookupType("moby.buildkit.v1.StatusResponse");
const trace = (status: object) => ({
  id: "moby.buildkit.trace",
  aux: Buffer.from(StatusResponse.encode(StatusResponse.fromObject(status)).finish()).toString("base64"),
});

describe("BuildkitProgress", () => {
  it("names the step that failed, not a sibling BuildKit cancelled because of it, whichever error arrives first", () => {
    const p = new BuildkitProgress();
    p.read(
      trace({
        vertexes: [
          { digest: "sha256:a", name: "[build 2/3] RUN sleep 5" },
          { digest: "sha256:b", name: "[3/3] RUN exit 3" },
        ],
      }),
    );
    p.read(trace({ vertexes: [{ digest: "sha256:a", name: "[build 2/3] RUN sleep 5", error: "context canceled" }] }));
    p.read(
      trace({
        vertexes: [
          {
            digest: "sha256:b",
            name: "[3/3] RUN exit 3",
            error: 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
          },
        ],
      }),
    );
    expect(p.failedStep).toBe("RUN exit 3");
  });

  it("names a step whose name arrives after its error; nothing failed: no step", () => {
    const p = new BuildkitProgress();
    expect(p.failedStep).toBeUndefined();
    p.read(trace({ vertexes: [{ digest: "sha256:c", error: 'failed to compute cache key: "/missing.txt": not found' }] }));
    p.read(trace({ vertexes: [{ digest: "sha256:c", name: "[2/2] COPY missing.txt ./" }] }));
    expect(p.failedStep).toBe("COPY missing.txt ./");
  });

  it("passes each step's output on, skips what is not BuildKit's status, and a message that does not decode", () => {
    const lines: string[] = [];
    const p = new BuildkitProgress((l) => lines.push(l));
    expect(p.read(trace({ logs: [{ vertex: "sha256:b", msg: Buffer.from("broken build\n") }] }))).toBe(true);
    expect(p.read({ stream: "Successfully tagged x\n" } as never)).toBe(false);
    expect(p.read({ id: "moby.buildkit.trace", aux: Buffer.from([0x0a, 0xff, 0xff]).toString("base64") })).toBe(true);
    expect(lines).toEqual(["broken build\n"]);
    expect(p.failedStep).toBeUndefined();
  });

  it("reads a Dockerfile step from a vertex name", () => {
    expect(stepOf("[2/3] RUN npm ci")).toBe("RUN npm ci");
    expect(stepOf("[build 3/4] COPY . .")).toBe("COPY . .");
    expect(stepOf("[internal] load metadata for docker.io/library/node:24-slim")).toBe(
      "[internal] load metadata for docker.io/library/node:24-slim",
    );
  });
});
