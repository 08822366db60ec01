/**
 * The secrets scan (issue 11 item 6): runs flotilla as a user would and looks for every token, in
 * each of its encodings, in everything the run left behind — stdout, stderr, the --json document,
 * GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, every file in the work tree (.git included) and the argv of
 * every process the run started.
 *
 * Argv comes from `strace -f -e trace=execve` (Debian's strace, tools/setup.sh installs it): a
 * PATH shim would miss processes started by absolute path (node's own execPath, pnpm's
 * `node_modules/.bin`), strace sees every execve of the whole process tree. `--seccomp-bpf` keeps
 * the tracing cost to the execve calls themselves.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { type CliResult, FLOTILLA_BIN } from "./cli.ts";

/** A token and the user it is sent with (Basic auth), if any. */
export interface Token {
  value: string;
  user?: string;
}

/** Every form a token can leak in: raw, base64/base64url of it and of `user:token`, URL-encoded. */
export function encodings(t: Token): string[] {
  const forms = [t.value, encodeURIComponent(t.value), b64(t.value), b64url(t.value)];
  if (t.user) forms.push(b64(`${t.user}:${t.value}`), b64url(`${t.user}:${t.value}`), `${t.user}:${t.value}`);
  // A base64 form is compared without its padding: inside a longer blob the padding differs.
  return [...new Set(forms.map((f) => f.replace(/=+$/, "")))].filter((f) => f.length >= 8);
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const b64url = (s: string) => Buffer.from(s).toString("base64url");

/** One place a token was found. */
export interface Leak {
  where: string;
  form: string;
}

/** Looks for every encoding of every token in each named haystack. */
export function findLeaks(haystacks: Record<string, string>, tokens: Token[]): Leak[] {
  const leaks: Leak[] = [];
  for (const t of tokens)
    for (const form of encodings(t))
      for (const [where, text] of Object.entries(haystacks)) if (text.includes(form)) leaks.push({ where, form: mask(form) });
  return leaks;
}

/** A found token is reported masked: the report of a leak must not leak it again. */
const mask = (s: string) => `${s.slice(0, 3)}…(${s.length} chars)`;

/** Every file under `dir` (node_modules skipped: pnpm's own store, not written by flotilla), by relative path. */
export function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules") walk(p);
      } else if (e.isFile()) out[`file ${path.relative(dir, p)}`] = readFileSync(p, "latin1");
    }
  };
  walk(dir);
  return out;
}

let straceOk: boolean | undefined;
/** strace is there and may trace (a container without ptrace cannot). */
export function straceAvailable(): boolean {
  if (straceOk === undefined) {
    try {
      execFileSync("strace", ["-f", "-qq", "-e", "trace=execve", "-o", "/dev/null", "true"], { stdio: "ignore" });
      straceOk = true;
    } catch {
      straceOk = false;
    }
  }
  return straceOk;
}

export interface ScannedRun extends CliResult {
  /** The argv of every process started (flotilla's own first), one string per process. */
  argvs: string[];
  /** Where each token was found (empty: none). */
  leaks: Leak[];
}

/**
 * Runs `flotilla args` (under strace when available) with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
 * files of its own, then scans everything for `tokens`. The environment is what runFlotilla
 * gives: the caller's minus GitHub/flotilla variables, plus `env`.
 */
export async function runScanned(
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; tokens: Token[]; traceArgv?: boolean },
): Promise<ScannedRun> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "flotilla-scan-"));
  try {
    const outputs = path.join(tmp, "output");
    const summary = path.join(tmp, "summary");
    const trace = path.join(tmp, "trace");
    writeFileSync(outputs, "");
    writeFileSync(summary, "");
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(GITHUB_|FLOTILLA_|NODE_AUTH_TOKEN|RUNNER_|CI$)/.test(k)),
    );
    const env = { ...base, GITHUB_OUTPUT: outputs, GITHUB_STEP_SUMMARY: summary, ...opts.env };
    const traced = (opts.traceArgv ?? true) && straceAvailable();
    const cmd = traced ? "strace" : process.execPath;
    const argv = traced
      ? [
          "-f",
          "-qq",
          "--seccomp-bpf",
          "-e",
          "trace=execve",
          "-e",
          "signal=none",
          "-s",
          "65536",
          "-o",
          trace,
          process.execPath,
          FLOTILLA_BIN,
          ...args,
        ]
      : [FLOTILLA_BIN, ...args];
    const r = await execa(cmd, argv, { cwd: opts.cwd, env, extendEnv: false, reject: false });
    const argvs = traced
      ? readFileSync(trace, "utf8")
          .split("\n")
          .map((l) => /execve\("[^"]*", (\[.*?\]), 0x/.exec(l)?.[1])
          .filter((a): a is string => a !== undefined)
      : [];
    const haystacks: Record<string, string> = {
      stdout: r.stdout,
      stderr: r.stderr,
      GITHUB_OUTPUT: readFileSync(outputs, "utf8"),
      GITHUB_STEP_SUMMARY: readFileSync(summary, "utf8"),
      ...filesUnder(opts.cwd),
      ...Object.fromEntries(argvs.map((a, i) => [`argv ${i} ${a.slice(0, 120)}`, a])),
    };
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, argvs, leaks: findLeaks(haystacks, opts.tokens) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
