/**
 * The fault table (issue 11 items 3 and 7): for each service (npm registry = Verdaccio, OCI
 * registry with the Docker daemon's own blob uploads, GitHub stand-in) and each fault mode, a
 * fresh copy of examples/ (own scope, image names, GitHub repository) is released with the fault
 * proxy (tools/src/testbed/fault-proxy.ts) in front of that one service; only if that run failed,
 * publish is rerun WITHOUT faults until it exits 0. The end state is compared with an
 * uninterrupted reference run's, writes are counted per service (none twice), and a last run must
 * find nothing to release — the kill-point sweep's comparison (test/helpers/sweep.ts).
 *
 * Contract: a transient fault ends in ONE run with exit 0; a permanent fault exits 1 naming the
 * service and the request, and one rerun without it finishes. A cell whose proxy injected nothing
 * fails too (it proved nothing).
 *
 *   pnpm --filter @flotilla/flotilla build
 *   node tools/faults/fault-table.ts [--parallel 2] [--cells npm:5xx,oci:stall] [--json faults.json]
 *
 * Prints the table and a summary line; exits 1 on any breach of the contract.
 */
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { FLOTILLA_BIN, runFlotilla } from "../../packages/flotilla/test/helpers/cli.ts";
import {
  differences,
  duplicates,
  type EndState,
  endState,
  type Prepared,
  preparedExamples,
  rerunUntilDone,
  seedBaseLayers,
  writes,
} from "../../packages/flotilla/test/helpers/sweep.ts";
import { type FaultPlan, startFaultProxy } from "../src/testbed/fault-proxy.ts";
import { startTestbed } from "../src/testbed/index.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const PARALLEL = Number(arg("parallel") ?? 2);
const JSON_OUT = arg("json");
/** A faulty run that has not ended by then is a hang (a client without a timeout). */
const HANG_MS = 20 * 60_000;

type Service = "npm" | "oci" | "github";
const SERVICES: Service[] = ["npm", "oci", "github"];

/**
 * The stalls are held just past the timeout of the client that meets them (read from
 * packages/flotilla/src/adapters/): npm publish through npm-registry-fetch, 5 min (its default);
 * the daemon's blob upload, which has none of its own, flotilla's push idle timeout of 120 s
 * (docker.ts); flotilla's OCI client, 60 s; Octokit, 30 s.
 */
interface Cell {
  service: Service;
  mode: string;
  /** What is injected, in words (for the table). */
  what: string;
  permanent?: boolean;
  plan: (p: Prepared) => FaultPlan;
  /** For a permanent fault: what the failing run's output must name (the service by name or by the address the user gave, method, path). */
  names?: (p: Prepared, proxy: { url: string; host: string }) => RegExp[];
}

const CELLS: Cell[] = [
  ...SERVICES.flatMap((service): Cell[] => [
    // A release makes few requests to npm and GitHub (7 each for examples/ since the diff is read
    // once, under the lock): their seed draws a 503 at the 3rd request (and the 6th, 9th, ...), so
    // the cell always injects; seed 11 drew its first at the 8th. The OCI registry's seed is kept.
    { service, mode: "5xx", what: "15% of requests answered 503", plan: () => ({ seed: service === "oci" ? 11 : 22, error5xx: 0.15 }) },
    { service, mode: "reset", what: "10% of connections reset mid-request", plan: () => ({ seed: 12, reset: 0.1 }) },
    { service, mode: "lost", what: "10% of answers lost after the service did the work", plan: () => ({ seed: 13, lostResponse: 0.1 }) },
    { service, mode: "slow", what: "half the answers 2 s late", plan: () => ({ seed: 14, slow: 0.5, slowMs: 2000 }) },
    { service, mode: "down", what: "down (connections dropped) for its first 5 s", plan: () => ({ downMs: 5000 }) },
  ]),
  {
    service: "npm",
    mode: "stall",
    what: "first publish PUT held 5 min 20 s (npm-registry-fetch's timeout: 5 min)",
    plan: () => ({ stall: 1, only: "^PUT /@", limit: 1, stallMs: 320_000 }),
  },
  {
    service: "oci",
    mode: "stall",
    what: "the daemon's first blob upload PATCH held 130 s (flotilla's push idle timeout: 120 s)",
    plan: () => ({ stall: 1, only: "^PATCH .*/blobs/uploads/", limit: 1, stallMs: 130_000 }),
  },
  {
    service: "oci",
    mode: "stall-api",
    what: "first floating-tag manifest PUT held 70 s (flotilla's OCI client timeout: 60 s)",
    plan: () => ({ stall: 1, only: "^PUT .*/manifests/latest$", limit: 1, stallMs: 70_000 }),
  },
  {
    service: "github",
    mode: "stall",
    what: "first release POST held 40 s (Octokit timeout: 30 s)",
    plan: () => ({ stall: 1, only: "^POST .*/releases$", limit: 1, stallMs: 40_000 }),
  },
  {
    service: "npm",
    mode: "permanent",
    permanent: true,
    what: "every publish PUT of core answered 500",
    plan: (p) => ({ permanent: [{ method: "PUT", path: `^/@${p.scope}%2[fF]core$`, status: 500 }] }),
    names: (p, proxy) => [new RegExp(`npm|${escapeRe(proxy.url)}`), new RegExp(`PUT ${escapeRe(proxy.url)}/@${p.scope}%2fcore`)],
  },
  {
    service: "oci",
    mode: "permanent",
    permanent: true,
    what: "every manifest PUT of tag latest answered 500",
    plan: () => ({ permanent: [{ method: "PUT", path: "/manifests/latest$", status: 500 }] }),
    names: (p, proxy) => [new RegExp(`registry|${escapeRe(proxy.host)}`), new RegExp(`PUT .*${p.scope}/(web|api)/manifests/latest`)],
  },
  {
    service: "github",
    mode: "permanent",
    permanent: true,
    what: "every release POST answered 500",
    plan: () => ({ permanent: [{ method: "POST", path: "/releases$", status: 500 }] }),
    names: (p) => [/GitHub/, new RegExp(`POST /repos/acme/${p.repo}/releases`)],
  },
];

interface CellResult {
  cell: string;
  what: string;
  permanent: boolean;
  /** Exit code of the run with the fault, then of each rerun without it. */
  exitCodes: number[];
  runs: number;
  /** Requests the proxy saw, and how many met each fault. */
  requests: number;
  injected: Record<string, number>;
  identical: boolean;
  differences: string[];
  duplicates: string[];
  noWorkAfter: boolean;
  /** For a permanent fault: the failing run's error lines, and whether they name service and request. */
  message?: string;
  named?: boolean;
  faultySeconds: number;
  seconds: number;
  ok: boolean;
  why: string[];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const key = (c: Cell) => `${c.service}:${c.mode}`;

function cleanup(p: Prepared) {
  rmSync(p.dir, { recursive: true, force: true });
  rmSync(path.dirname(p.origin), { recursive: true, force: true });
}

/** One publish with the faulty environment, ended (whole group) if it hangs. */
async function faultyRun(p: Prepared, env: Record<string, string>) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GITHUB_|FLOTILLA_|NODE_AUTH_TOKEN|RUNNER_|CI$)/.test(k)));
  const r = await execa(process.execPath, [FLOTILLA_BIN, "publish", "--skip-build"], {
    cwd: p.dir,
    env: { ...base, ...env },
    extendEnv: false,
    reject: false,
    timeout: HANG_MS,
    killSignal: "SIGKILL",
  });
  return { exitCode: r.timedOut ? -1 : (r.exitCode ?? -1), output: `${r.stdout}\n${r.stderr}`, hung: r.timedOut };
}

async function runCell(c: Cell, want: EndState): Promise<CellResult> {
  const started = Date.now();
  const p = await preparedExamples();
  const tb = p.tb;
  if (c.service === "oci") await seedBaseLayers(p.tb, [`${p.scope}/web`, `${p.scope}/api`]);
  const target = { npm: tb.npm.url, oci: tb.registry.url, github: tb.github.url }[c.service];
  const proxy = await startFaultProxy(target, c.plan(p));
  const env = {
    ...p.env,
    ...(c.service === "npm" ? { FLOTILLA_NPM_REGISTRY: `${proxy.url}/` } : {}),
    ...(c.service === "oci" ? { FLOTILLA_IMAGE_REGISTRY: proxy.host } : {}),
    ...(c.service === "github" ? { GITHUB_API_URL: proxy.url } : {}),
  };
  const t0 = Date.now();
  const first = await faultyRun(p, env);
  const faultySeconds = Math.round((Date.now() - t0) / 1000);
  const injected = proxy.counts() as Record<string, number>;
  const requests = proxy.requests.filter((q) => q.method !== "-").length;
  await proxy.close();

  const exitCodes = [first.exitCode];
  if (first.exitCode !== 0) {
    const again = await rerunUntilDone(p);
    for (let i = 1; i < again.runs; i++) exitCodes.push(1);
    exitCodes.push(again.ok ? 0 : 1);
  }
  // Image references in release notes name the registry the run used (the proxy's host).
  const got = JSON.parse(JSON.stringify(await endState(p)).replaceAll(proxy.host, tb.registry.host)) as EndState;
  const diffs = exitCodes.at(-1) === 0 ? differences(got, want) : ["never exited 0"];
  const dups = duplicates(await writes(p));
  const last = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
  const noWorkAfter = last.exitCode === 0 && last.stdout.includes("Nothing to release");

  const why: string[] = [];
  const injectedTotal = Object.values(injected).reduce((a, b) => a + b, 0);
  if (injectedTotal === 0) why.push("no fault injected");
  if (first.hung) why.push(`the faulty run hung (ended after ${HANG_MS / 60_000} min)`);
  let message: string | undefined;
  let named: boolean | undefined;
  if (c.permanent) {
    message = first.output
      .split("\n")
      .filter((l) => /error|fail|HTTP 5\d\d/i.test(l))
      .slice(0, 4)
      .join("\n");
    named = (c.names?.(p, proxy) ?? []).every((re) => re.test(message ?? ""));
    if (first.exitCode !== 1) why.push(`the faulty run exited ${first.exitCode}, not 1`);
    if (!named) why.push("the error does not name the service and the request");
    if (exitCodes.length !== 2) why.push(`${exitCodes.length - 1} reruns, not 1`);
  } else if (first.exitCode !== 0) why.push(`the faulty run exited ${first.exitCode}, not 0`);
  if (diffs.length) why.push(`differs: ${diffs.join(", ")}`);
  if (dups.length) why.push(`written twice: ${dups.join(", ")}`);
  if (!noWorkAfter) why.push("the last run found work");
  if (why.length && first.exitCode !== 0 && !c.permanent)
    message = first.output
      .split("\n")
      .filter((l) => /error|fail/i.test(l))
      .slice(0, 4)
      .join("\n");

  const r: CellResult = {
    cell: key(c),
    what: c.what,
    permanent: !!c.permanent,
    exitCodes,
    runs: exitCodes.length,
    requests,
    injected,
    identical: diffs.length === 0,
    differences: diffs,
    duplicates: dups,
    noWorkAfter,
    ...(message !== undefined ? { message } : {}),
    ...(named !== undefined ? { named } : {}),
    faultySeconds,
    seconds: Math.round((Date.now() - started) / 1000),
    ok: why.length === 0,
    why,
  };
  print(r);
  if (r.ok) cleanup(p);
  else console.log(`        (kept for inspection: ${p.dir})`);
  return r;
}

const fmtInjected = (r: CellResult) =>
  `${
    Object.entries(r.injected)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none"
  } of ${r.requests}`;

function print(r: CellResult) {
  console.log(
    `${r.cell.padEnd(17)} ${String(r.runs).padStart(4)}  ${r.exitCodes.join(",").padEnd(6)} ${(r.identical ? "yes" : "NO").padEnd(9)} ${String(r.duplicates.length).padStart(4)}  ${(r.noWorkAfter ? "yes" : "NO").padEnd(7)} ${fmtInjected(r).padEnd(28)} ${String(r.faultySeconds).padStart(5)}  ${r.ok ? "ok" : "FAIL"}`,
  );
  for (const w of r.why) console.log(`        ${w}`);
  if (r.message && (r.permanent || !r.ok)) for (const l of r.message.split("\n")) console.log(`        | ${l.slice(0, 200)}`);
}

async function cellOrError(c: Cell, want: EndState): Promise<CellResult> {
  try {
    return await runCell(c, want);
  } catch (err) {
    // The testbed failed us (not flotilla): reported as such, the table goes on.
    const r: CellResult = {
      cell: key(c),
      what: c.what,
      permanent: !!c.permanent,
      exitCodes: [],
      runs: -1,
      requests: 0,
      injected: {},
      identical: false,
      differences: [],
      duplicates: [],
      noWorkAfter: false,
      faultySeconds: 0,
      seconds: 0,
      ok: false,
      why: [`testbed error: ${(err as Error).message}`],
    };
    print(r);
    return r;
  }
}

async function main() {
  await startTestbed({ log: (s) => console.error(s) });
  const t0 = Date.now();
  const wanted = arg("cells")?.split(",");
  const cells = wanted ? CELLS.filter((c) => wanted.includes(key(c))) : CELLS;
  const unknown = (wanted ?? []).filter((w) => !CELLS.some((c) => key(c) === w));
  if (unknown.length) {
    console.error(`unknown cells: ${unknown.join(", ")}; known: ${CELLS.map(key).join(", ")}`);
    process.exit(2);
  }

  const ref = await preparedExamples();
  const full = await runFlotilla(["publish", "--skip-build"], { cwd: ref.dir, env: ref.env });
  if (full.exitCode !== 0) throw new Error(`the reference run exited ${full.exitCode}: ${full.stderr}`);
  const want = await endState(ref);
  const refDups = duplicates(await writes(ref));
  if (refDups.length) throw new Error(`the reference run wrote twice: ${refDups.join(", ")}`);
  cleanup(ref);
  console.log(
    `reference run: ${want.releases.length} releases, ${Object.keys(want.tags).length} tags (${Math.round((Date.now() - t0) / 1000)} s)\n`,
  );
  console.log(`${"cell".padEnd(17)} runs  exits  identical dups  no work injected (of requests)        s(faulty)`);

  const results: CellResult[] = [];
  const queue = [...cells];
  const worker = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) results.push(await cellOrError(c, want));
  };
  await Promise.all(Array.from({ length: Math.max(1, PARALLEL) }, worker));
  results.sort((a, b) => cells.findIndex((c) => key(c) === a.cell) - cells.findIndex((c) => key(c) === b.cell));

  const transient = results.filter((r) => !r.permanent);
  const permanent = results.filter((r) => r.permanent);
  const summary = [
    `transient faults survived in one run: ${transient.filter((r) => r.ok).length} of ${transient.length}`,
    `permanent faults: exit 1 naming the request, then one rerun: ${permanent.filter((r) => r.ok).length} of ${permanent.length}`,
    `identical end state: ${results.filter((r) => r.identical).length} of ${results.length}`,
    `duplicate writes: ${results.reduce((n, r) => n + r.duplicates.length, 0)}`,
    `nothing left after: ${results.filter((r) => r.noWorkAfter).length} of ${results.length}`,
    `cells without an injected fault: ${results.filter((r) => Object.keys(r.injected).length === 0).length}`,
    `${Math.round((Date.now() - t0) / 1000)} s`,
  ].join("; ");
  console.log(`\n${summary}`);
  if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify({ summary, results }, null, 2)}\n`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
