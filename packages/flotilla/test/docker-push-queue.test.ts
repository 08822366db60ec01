/**
 * The image push's idle watch (adapters/docker.ts): a layer queued for an upload slot says
 * "Waiting" once and then nothing until its turn, which is not a stuck push; the watch reads that
 * from the daemon's progress stream, whose JSON lines arrive split anywhere.
 */
import { describe, expect, it } from "vitest";
import { LayerQueue } from "../src/adapters/docker.ts";

describe("LayerQueue", () => {
  it("knows a layer is queued while its last status is Waiting, across lines split between chunks", () => {
    const q = new LayerQueue();
    const stream = [
      '{"status":"The push refers to repository [127.0.0.1:5000/acme/web]"}\n',
      '{"status":"Preparing","id":"aaa"}\n{"status":"Preparing","id":"bbb"}\n',
      '{"status":"Waiting","id":"bb',
      'b"}\n{"status":"Pushing","id":"aaa","progressDetail":{"current":1,"total":9}}\n',
    ];
    for (const chunk of stream) q.read(chunk);
    expect(q.waiting()).toBe(true);
    q.read('{"status":"Pushing","id":"bbb"}\n');
    expect(q.waiting()).toBe(false);
    q.read('{"status":"Pushed","id":"aaa"}\n{"status":"Layer already exists","id":"bbb"}\nnot json\n');
    expect(q.waiting()).toBe(false);
  });

  it("collects the layers a push got into the repository (pushed or mounted; not those already there) across attempts", () => {
    const up = new Set<string>();
    const first = new LayerQueue(up);
    first.read(
      '{"status":"Pushed","id":"aaa"}\n{"status":"Layer already exists","id":"bbb"}\n{"status":"Mounted from acme/api","id":"ccc"}\n',
    );
    first.read('{"status":"Pushing","id":"ddd"}\n');
    expect([...up].sort()).toEqual(["aaa", "ccc"]);
    // The next attempt finds them there: no new layer, so no progress.
    const second = new LayerQueue(up);
    second.read('{"status":"Layer already exists","id":"aaa"}\n{"status":"Layer already exists","id":"ccc"}\n');
    expect(up.size).toBe(2);
    second.read('{"status":"Pushed","id":"ddd"}\n');
    expect(up.size).toBe(3);
  });
});
