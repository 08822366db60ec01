/**
 * Profile of one `flotilla publish --skip-build --only npm --only git` first publish of N
 * generated packages (the publish benchmark's workspace): each log line stamped with the time
 * since start, and the phases summed (start-up and diff, pack, PUTs, tags).
 *
 * Also counts what a user cannot see in the log: the pushes that reached origin (a
 * reference-transaction hook in the bare origin counts the committed transactions touching
 * refs/tags, one per `git push --atomic`), and with --count-exec every program flotilla's
 * process tree executed (strace, execve only, seccomp-filtered so the run is barely slowed).
 *
 * With --sample-registry, Verdaccio's CPU (/proc/<pid>/stat) is read every 50 ms and printed as
 * its busy share per quarter second: where the registry waited on flotilla, and where not.
 *
 *   node tools/bench/profile-publish.ts [--n 200] [--cpu-prof DIR] [--count-exec] [--sample-registry] [--all] [-- FLOTILLA ARGS]
 */

import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { startTestbed, stopTestbed } from "../src/testbed/index.ts";
import { numArg, REPO_ROOT } from "./common.ts";
import { generateWorkspace } from "./workspace.ts";

const N = numArg("n", 200);
const CPU_PROF = process.argv.includes("--cpu-prof") ? process.argv[process.argv.indexOf("--cpu-prof") + 1] : undefined;
const COUNT_EXEC = process.argv.includes("--count-exec");
const SAMPLE = process.argv.includes("--sample-registry");
const { testbed: tb, started } = await startTestbed({ log: (s) => console.error(s) });
try {
  const dir = generateWorkspace(tb, `pr${Date.now().toString(36)}`, N);
  const origin = `${dir}.git`; // generateWorkspace's bare origin, beside the workspace
  const pushes = path.join(mkdtempSync(path.join(os.tmpdir(), "profile-pushes-")), "count");
  writeFileSync(pushes, "");
  const hook = path.join(origin, "hooks", "reference-transaction");
  writeFileSync(hook, `#!/bin/sh\n[ "$1" = committed ] || exit 0\ngrep -q ' refs/tags/' && echo push >> '${pushes}'\nexit 0\n`);
  chmodSync(hook, 0o755);
  const trace = path.join(path.dirname(pushes), "execve");
  const flotilla = [
    process.execPath,
    path.join(REPO_ROOT, "packages/flotilla/bin/flotilla.js"),
    "publish",
    "--skip-build",
    "--only",
    "npm",
    "--only",
    "git",
    // After `--`: more of flotilla's options (e.g. `-- --concurrency 32`).
    ...(process.argv.includes("--") ? process.argv.slice(process.argv.indexOf("--") + 1) : []),
  ];
  const [cmd, ...args] = COUNT_EXEC ? ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=execve", "-o", trace, ...flotilla] : flotilla;
  /** Verdaccio's CPU seconds so far (utime + stime, USER_HZ 100). */
  const registryCpu = () => {
    const f = readFileSync(`/proc/${tb.npm.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const samples: [number, number][] = [];
  const t0 = performance.now();
  const sampler = SAMPLE ? setInterval(() => samples.push([(performance.now() - t0) / 1000, registryCpu()]), 50) : undefined;
  const child = execa(cmd!, args, {
    cwd: dir,
    reject: false,
    all: true,
    buffer: false,
    env: {
      FLOTILLA_NPM_REGISTRY: `${tb.npm.url}/`,
      NODE_AUTH_TOKEN: tb.npm.token,
      GITHUB_REPOSITORY: "bench/bench",
      // --cpu-prof DIR: Node's CPU profile of the run (open it in Chrome's DevTools).
      ...(CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF}` } : {}),
    },
  });
  const stamps: [number, string][] = [];
  let rest = "";
  child.all!.on("data", (b: Buffer) => {
    const parts = (rest + b.toString()).split("\n");
    rest = parts.pop()!;
    for (const l of parts) stamps.push([(performance.now() - t0) / 1000, l]);
  });
  const r = await child;
  const total = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const first = (re: RegExp) => stamps.find(([, l]) => re.test(l))?.[0] ?? NaN;
  const lastOf = (re: RegExp) => stamps.filter(([, l]) => re.test(l)).at(-1)?.[0] ?? NaN;
  for (const [t, l] of process.argv.includes("--all") ? stamps : stamps.filter((_, i) => i < 8 || i > stamps.length - 8))
    console.log(`${t.toFixed(2).padStart(7)} s  ${l}`);
  console.log(`\nexit ${r.exitCode}; N = ${N}; total ${total.toFixed(2)} s`);
  console.log(`  start-up, preflight, diff: until "pnpm pack"   ${first(/pnpm pack/).toFixed(2)} s`);
  console.log(`  pack: until the first publish                    ${(first(/published/) - first(/pnpm pack/)).toFixed(2)} s`);
  console.log(`  publishes: first → last                          ${(lastOf(/published/) - first(/published/)).toFixed(2)} s`);
  console.log(`  tags after the last publish                       ${(lastOf(/tagged/) - lastOf(/published/)).toFixed(2)} s`);
  console.log(
    `  after the last step (report, exit)               ${(total - Math.max(lastOf(/tagged/), lastOf(/published/))).toFixed(2)} s`,
  );
  console.log(`  pushes of tags that reached origin               ${readFileSync(pushes, "utf8").split("\n").filter(Boolean).length}`);
  if (SAMPLE && samples.length > 1) {
    // Busy share of one core per quarter second (a Node process can pass 100% with its GC threads).
    const quarters = new Map<number, number[]>();
    for (let i = 1; i < samples.length; i++) {
      const [t, cpu] = samples[i]!;
      const [t1, cpu1] = samples[i - 1]!;
      const q = Math.floor(t * 4) / 4;
      quarters.set(q, [...(quarters.get(q) ?? []), (cpu - cpu1) / (t - t1)]);
    }
    const busy = [...quarters].map(([q, xs]) => `${q.toFixed(2)}:${Math.round((100 * xs.reduce((a, b) => a + b, 0)) / xs.length)}%`);
    console.log(`  registry CPU ${(samples.at(-1)![1] - samples[0]![1]).toFixed(2)} s; busy per 0.25 s: ${busy.join(" ")}`);
  }
  if (COUNT_EXEC) {
    // `PID execve("/usr/bin/git", ["git", "push", ...` → "git push"; failed lookups along PATH (= -1 ENOENT) not counted.
    const runs = new Map<string, number>();
    for (const line of readFileSync(trace, "utf8").split("\n")) {
      const m = /execve\("[^"]*", \["([^"]*)"(?:, "([^"]*)")?/.exec(line);
      if (!m || / = -1 /.test(line)) continue;
      const what = `${path.basename(m[1]!)}${m[2] && !m[2].startsWith("-") && !m[2].includes("/") ? ` ${m[2]}` : ""}`;
      runs.set(what, (runs.get(what) ?? 0) + 1);
    }
    console.log(`  programs executed (${[...runs.values()].reduce((a, b) => a + b, 0)} in all):`);
    for (const [what, n] of [...runs].sort((a, b) => b[1] - a[1])) console.log(`    ${String(n).padStart(6)}  ${what}`);
  }
} finally {
  if (started) await stopTestbed();
}
