import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { packWithPnpm, readPacked } from "../../packages/flotilla/src/adapters/pnpm.ts";
import { startTestbed, stopTestbed, type Testbed } from "../src/testbed/index.ts";
import { listArg, median, REPO_ROOT as root, runsArg } from "./common.ts";
import { generateWorkspace } from "./workspace.ts";

const SIZES = listArg("n", [200]);
const CS_SIZES = new Set(listArg("changesets", SIZES));
// --floor 50,200: the sizes that also get the floor (default: all); a scaling run to 3,000 can skip it.
const FLOOR_SIZES = new Set(listArg("floor", SIZES));
const RUNS = runsArg(3);
const CONCURRENCY = 8; // flotilla's default --concurrency
const CHANGESET = path.join(root, "node_modules/.bin/changeset");
const FLOTILLA = path.join(root, "packages/flotilla/bundle/flotilla.mjs"); // the package's bin (pnpm build makes it)
// libnpmpublish and p-limit are flotilla's dependencies, resolved from its package.
const fromFlotilla = createRequire(path.join(root, "packages/flotilla/package.json"));
const libnpmpublish = fromFlotilla("libnpmpublish") as typeof import("libnpmpublish");
const { default: pLimit } = (await import(fromFlotilla.resolve("p-limit"))) as typeof import("p-limit");
let N = 0;

const generate = (tb: Testbed, scope: string) => generateWorkspace(tb, scope, N);

type Tool = "changesets" | "flotilla";

/**
 * changesets' auth as actions/setup-node sets it up: a user npmrc holding the token (outside
 * any repository, mode 0600). The environment form `npm_config_//host/:_authToken` did not
 * reach every pnpm request changesets makes here (401 on `pnpm info`).
 */
let userconfigFile: string | undefined;
function userconfig(tb: Testbed): string {
  if (!userconfigFile) {
    userconfigFile = path.join(mkdtempSync(path.join(os.tmpdir(), "bench-npmrc-")), "npmrc");
    writeFileSync(userconfigFile, `${tb.npm.url.replace(/^https?:/, "")}/:_authToken=${tb.npm.token}\nupdate-notifier=false\n`, {
      mode: 0o600,
    });
  }
  return userconfigFile;
}

/** Peak memory (KiB) of the last flotilla run, from /usr/bin/time. */
let lastRssKiB = 0;

async function run(tool: Tool, dir: string, tb: Testbed): Promise<number> {
  const t0 = performance.now();
  const r =
    tool === "changesets"
      ? await execa(CHANGESET, ["publish"], {
          cwd: dir,
          reject: false,
          env: { NPM_CONFIG_USERCONFIG: userconfig(tb), npm_config_update_notifier: "false" },
        })
      : await execa(
          "/usr/bin/time",
          ["-f", "MAXRSS %M", process.execPath, FLOTILLA, "publish", "--skip-build", "--only", "npm", "--only", "git"],
          {
            cwd: dir,
            reject: false,
            env: { FLOTILLA_NPM_REGISTRY: `${tb.npm.url}/`, NODE_AUTH_TOKEN: tb.npm.token, GITHUB_REPOSITORY: "bench/bench" },
          },
        );
  const ms = performance.now() - t0;
  if (r.exitCode !== 0)
    throw new Error(`${tool} failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-2000)}\n${String(r.stdout).slice(-2000)}`);
  if (tool === "flotilla") lastRssKiB = Number(/MAXRSS (\d+)/.exec(String(r.stderr))?.[1] ?? 0);
  return ms;
}

/** CPU seconds Verdaccio (one Node process: one core at most) has used so far (/proc, Linux). */
function verdaccioCpu(tb: Testbed): number {
  const f = readFileSync(`/proc/${tb.npm.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ: 100 on Linux)
}

interface Floor {
  putMs: number;
  packMs: number;
  /** The N packument reads any release must make first (what is released already?), 32 at a time as flotilla's diff. */
  readMs: number;
  /** Verdaccio's CPU seconds during the reads and during the PUTs. */
  readCpu: number;
  putCpu: number;
}

/**
 * The floor: the workspace's N tarballs packed by pnpm (untimed), then only their PUTs, with
 * libnpmpublish as any tool would call it, CONCURRENCY at once. Also returns the pack's time
 * (one `pnpm pack` of all N), which flotilla spends inside its run, and a second floor: the N
 * packument reads before the PUTs (plain fetch, no retries, no parsing), the reads a release
 * checked against its source of truth cannot skip. Verdaccio's own CPU during each says how much
 * of it is the registry's: one process, so no client can go below it.
 */
async function floor(dir: string, scope: string, tb: Testbed): Promise<Floor> {
  const dest = mkdtempSync(path.join(os.tmpdir(), "bench-floor-"));
  const names = Array.from({ length: N }, (_, i) => `@${scope}/pkg-${String(i).padStart(4, "0")}`);
  const p0 = performance.now();
  const packed = await packWithPnpm(dir, names, dest);
  const packMs = performance.now() - p0;
  const tarballs = await Promise.all([...packed.values()].map((p) => readPacked(p.tarball)));
  const reads = pLimit(32);
  const v0 = verdaccioCpu(tb);
  const r0 = performance.now();
  await Promise.all(
    names.map((n) =>
      reads(async () => {
        const res = await fetch(`${tb.npm.url}/${n.replace("/", "%2f")}`, {
          headers: {
            accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8",
            authorization: `Bearer ${tb.npm.token}`,
          },
        });
        await res.arrayBuffer();
      }),
    ),
  );
  const readMs = performance.now() - r0;
  const v1 = verdaccioCpu(tb);
  const limit = pLimit(CONCURRENCY);
  const t0 = performance.now();
  await Promise.all(
    tarballs.map(({ manifest, data }) =>
      limit(() =>
        libnpmpublish.publish(manifest as never, data, {
          registry: `${tb.npm.url}/`,
          forceAuth: { token: tb.npm.token },
          defaultTag: "latest",
          access: "restricted",
        } as never),
      ),
    ),
  );
  const putMs = performance.now() - t0;
  return { putMs, packMs, readMs, readCpu: v1 - v0, putCpu: verdaccioCpu(tb) - v1 };
}

const { testbed: tb, started } = await startTestbed({ log: (s) => console.error(s) });
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
try {
  console.log(
    `${RUNS} run(s) each, Node ${process.version}, Verdaccio ${tb.npm.url}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}\n`,
  );
  const rows: string[] = [];
  for (const n of SIZES) {
    N = n;
    const tools: Tool[] = CS_SIZES.has(n) ? ["changesets", "flotilla"] : ["flotilla"];
    const times: Record<Tool, { first: number[]; noop: number[] }> = {
      changesets: { first: [], noop: [] },
      flotilla: { first: [], noop: [] },
    };
    const floors: Floor[] = [];
    const rss = { first: [] as number[], noop: [] as number[] };
    const last: Record<Tool, string> = { changesets: "", flotilla: "" };
    // Warm the registry up first, untimed: a fresh Verdaccio spends up to twice the CPU per request
    // on its first ~2,000 (measured: 16.7 CPU-s for a release of 1,000 packages on a fresh one,
    // 8.6–9.9 CPU-s after), so whichever ran first paid for it — before this warm-up, flotilla.
    if (n === SIZES[0]) {
      const scope = `wu${Date.now().toString(36)}`;
      const w = await floor(generate(tb, scope), scope, tb);
      console.error(`  N=${n} warm-up (untimed): the floor's reads and PUTs, Verdaccio ${(w.readCpu + w.putCpu).toFixed(2)} CPU-s`);
    }
    for (let i = 0; i < RUNS; i++) {
      // The floor first: Verdaccio's cost per write grows with the packages it holds, so the
      // tools, measured after it, meet a registry holding more than the floor did (never less).
      if (FLOOR_SIZES.has(n)) {
        const scope = `fo${Date.now().toString(36)}${i}`;
        floors.push(await floor(generate(tb, scope), scope, tb));
        const f = floors.at(-1)!;
        console.error(
          `  N=${n} floor #${i + 1}: reads ${fmt(f.readMs)} (Verdaccio ${f.readCpu.toFixed(2)} CPU-s), PUTs ${fmt(f.putMs)} (Verdaccio ${f.putCpu.toFixed(2)} CPU-s), pack ${fmt(f.packMs)}`,
        );
      }
      for (const tool of tools) {
        const dir = generate(tb, `${tool === "changesets" ? "cs" : "fl"}${Date.now().toString(36)}${i}`);
        const v0 = verdaccioCpu(tb);
        times[tool].first.push(await run(tool, dir, tb));
        if (tool === "flotilla") rss.first.push(lastRssKiB);
        last[tool] = dir;
        console.error(
          `  N=${n} ${tool} first publish #${i + 1}: ${fmt(times[tool].first.at(-1)!)} (Verdaccio ${(verdaccioCpu(tb) - v0).toFixed(2)} CPU-s)`,
        );
      }
    }
    for (let i = 0; i < RUNS; i++) {
      for (const tool of tools) {
        times[tool].noop.push(await run(tool, last[tool], tb));
        if (tool === "flotilla") rss.noop.push(lastRssKiB);
        console.error(`  N=${n} ${tool} no-op rerun #${i + 1}: ${fmt(times[tool].noop.at(-1)!)}`);
      }
    }
    const fl = median(times.flotilla.first);
    const put = floors.length ? median(floors.map((f) => f.putMs)) : NaN;
    const cs = tools.includes("changesets") ? median(times.changesets.first) : NaN;
    const csNoop = tools.includes("changesets") ? median(times.changesets.noop) : NaN;
    const flNoop = median(times.flotilla.noop);
    const r = (a: number, b: number) => (Number.isNaN(a) ? "—" : `${(a / b).toFixed(1)}×`);
    const floorCell = Number.isNaN(put) ? "—" : `${fmt(put)} (pack ${fmt(median(floors.map((f) => f.packMs)))})`;
    const readPut = floors.length ? median(floors.map((f) => f.readMs + f.putMs)) : NaN;
    const readPutCell = Number.isNaN(readPut) ? "—" : `${fmt(readPut)} (${(fl / readPut).toFixed(2)}×)`;
    const mib = (k: number[]) => `${Math.round(Math.max(...k) / 1024)} MiB`;
    rows.push(
      `| ${n} | ${Number.isNaN(cs) ? "—" : fmt(cs)} | ${fmt(fl)} | ${r(cs, fl)} | ${floorCell} | ${Number.isNaN(put) ? "—" : `${(fl / put).toFixed(2)}×`} | ${readPutCell} | ${Number.isNaN(csNoop) ? "—" : fmt(csNoop)} | ${fmt(flNoop)} | ${r(csNoop, flNoop)} | ${mib(rss.first)} / ${mib(rss.noop)} |`,
    );
    // Each size's row as soon as it is measured (a long invocation keeps what it finished), then the table.
    console.error(`  row: ${rows.at(-1)} (load ${os.loadavg()[0]!.toFixed(1)})`);
  }
  console.log(
    "| N | first: changesets | first: flotilla | ratio | floor: PUTs only | flotilla / floor | floor: reads + PUTs (flotilla / it) | no-op: changesets | no-op: flotilla | ratio | flotilla peak RSS (first / no-op) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
  console.log(
    `\nload ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} at the end`,
  );
} finally {
  if (started) await stopTestbed();
}
