/** The benchmarks' generated workspace. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBareRemote } from "../src/testbed/git.ts";
import type { Testbed } from "../src/testbed/index.ts";

/** N packages in chains of up to 5 (`workspace:^`), committed, installed, with a bare origin. */
export function generateWorkspace(tb: Testbed, scope: string, N: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-${scope}-`));
  const w = (rel: string, content: string | object) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
  };
  w("package.json", { name: "bench-root", private: true });
  w("pnpm-workspace.yaml", "packages:\n  - packages/*\n");
  // changesets 3 looks packages up with `pnpm info`, which reads the registry from here (PITFALLS 23).
  w(".npmrc", `@${scope}:registry=${tb.npm.url}/\n`);
  w(".gitignore", "node_modules/\n");
  w(".changeset/config.json", { changelog: false, commit: false, access: "restricted", baseBranch: "main", format: false });
  for (let i = 0; i < N; i++) {
    const name = `@${scope}/pkg-${String(i).padStart(4, "0")}`;
    const dep = i % 5 === 0 ? {} : { dependencies: { [`@${scope}/pkg-${String(i - 1).padStart(4, "0")}`]: "workspace:^" } };
    w(`packages/pkg-${i}/package.json`, {
      name,
      version: "1.0.0",
      main: "index.js",
      publishConfig: { registry: `${tb.npm.url}/` },
      ...dep,
    });
    w(`packages/pkg-${i}/index.js`, `module.exports = ${i};\n`);
  }
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir });
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "bench@example.test");
  git("config", "user.name", "bench");
  git("add", "-A");
  git("commit", "-q", "-m", "bench");
  git("remote", "add", "origin", createBareRemote(path.join(dir, "..", `${path.basename(dir)}.git`)));
  git("push", "-q", "origin", "main");
  return dir;
}
