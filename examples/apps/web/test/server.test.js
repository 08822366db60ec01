import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import test from "node:test";

test("prints its version", () => {
  const out = execFileSync(process.execPath, ["src/server.js", "--version"], { encoding: "utf8" });
  assert.match(out, /^@[\w-]+\/\S+ \d+\.\d+\.\d+/);
});
