/**
 * Benchmark: images of K apps, build cache cold (each run's apps carry new content), with a naive
 * script — for each app in turn `docker build`, `docker tag …:latest`, `docker push` both — against
 * `flotilla publish --only images --skip-build` (version, minor, major and latest tags), in one
 * invocation, interleaved, on the testbed's Docker daemon and OCI registry. Prints medians and
 * the ratio naive / flotilla. Not a test: figures, not assertions.
 *
 *   node tools/bench/image-bench.ts [--apps 2,6] [--runs 3] [--builds label=bin[:classic],…]
 *
 * `--builds` times copies of the CLI beside the naive script, each with the daemon's builder it
 * names (default: the bundle, the package's bin, with BuildKit — flotilla's default — and with
 * `images.builder: "classic"`, the builder the naive script's `docker build` uses on a machine
 * without the buildx plugin, as this one).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { releasableWorkspace, uniqueScope } from "../../packages/flotilla/test/helpers/testbed.ts";
import { startTestbed, stopTestbed, type Testbed, testbedEnv } from "../src/testbed/index.ts";
import { listArg, median, REPO_ROOT, runsArg } from "./common.ts";

const APPS = listArg("apps", [2, 6]);
const RUNS = runsArg(3);
const buildsArg = process.argv.indexOf("--builds");
const BUNDLE = path.join(REPO_ROOT, "packages/flotilla/bundle/flotilla.mjs");
type Builder = "buildkit" | "classic";
const BUILDS: Record<string, { bin: string; builder: Builder }> =
  buildsArg > 0
    ? Object.fromEntries(
        process.argv[buildsArg + 1]!.split(",").map((b) => {
          const [label, spec] = b.split("=") as [string, string];
          const [bin, builder] = spec.split(":") as [string, Builder | undefined];
          return [label, { bin, builder: builder ?? "buildkit" }];
        }),
      )
    : {
        "flotilla (BuildKit)": { bin: BUNDLE, builder: "buildkit" },
        "flotilla (classic builder)": { bin: BUNDLE, builder: "classic" },
      };

/** K private apps with a Dockerfile each; `salt` makes every layer new (a cold cache). */
function appsWorkspace(tb: Testbed, k: number, salt: string, builder: Builder = "buildkit") {
  const s = uniqueScope();
  const files: Record<string, string> = {};
  for (let i = 0; i < k; i++) {
    files[`apps/app${i}/Dockerfile`] =
      `FROM ${tb.docker.baseImage}\nWORKDIR /app\nCOPY . .\nRUN echo ${salt}-${i} > build-id && ls -R /app > files.txt\nCMD ["node", "-e", "0"]\n`;
    files[`apps/app${i}/server.js`] = `console.log(${JSON.stringify(`${salt}-${i}`)});\n`;
  }
  const pkgs = Array.from({ length: k }, (_, i) => ({ name: `@${s}/app${i}`, version: "1.0.0", private: true, dir: `apps/app${i}` }));
  return { ...releasableWorkspace(pkgs, { ...files, "flotilla.config.json": { images: { builder } } }), scope: s };
}

async function naive(tb: Testbed, dir: string, k: number, owner: string, dockerConfig: string): Promise<number> {
  const env = { DOCKER_HOST: tb.docker.host, DOCKER_CONFIG: dockerConfig };
  const t0 = performance.now();
  for (let i = 0; i < k; i++) {
    const image = `${tb.registry.host}/${owner}/app${i}`;
    await execa("docker", ["build", "-q", "-t", `${image}:1.0.0`, `apps/app${i}`], { cwd: dir, env });
    await execa("docker", ["tag", `${image}:1.0.0`, `${image}:latest`], { env });
    await execa("docker", ["push", "-q", `${image}:1.0.0`], { env });
    await execa("docker", ["push", "-q", `${image}:latest`], { env });
  }
  return performance.now() - t0;
}

async function flotilla(tb: Testbed, bin: string, dir: string, owner: string): Promise<number> {
  const t0 = performance.now();
  const r = await execa(process.execPath, [bin, "publish", "--skip-build", "--only", "images"], {
    cwd: dir,
    reject: false,
    env: { ...testbedEnv(tb), GITHUB_REPOSITORY: `${owner}/bench` },
  });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`flotilla failed (exit ${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  return ms;
}

const { testbed: tb, started } = await startTestbed({ log: (s) => console.error(s) });
try {
  const dockerConfig = mkdtempSync(path.join(os.tmpdir(), "bench-docker-"));
  writeFileSync(
    path.join(dockerConfig, "config.json"),
    JSON.stringify({
      auths: { [tb.registry.host]: { auth: Buffer.from(`${tb.registry.username}:${tb.registry.password}`).toString("base64") } },
    }),
    { mode: 0o600 },
  );
  const info = await execa("docker", ["info", "--format", "{{.NCPU}}"], { env: { DOCKER_HOST: tb.docker.host } });
  console.log(`${RUNS} run(s) each, cold build cache, daemon CPUs ${info.stdout.trim()}, load ${os.loadavg()[0]!.toFixed(1)}\n`);
  const rows: string[] = [];
  for (const k of APPS) {
    const t = new Map<string, number[]>([["naive", []], ...Object.keys(BUILDS).map((b) => [b, []] as [string, number[]])]);
    for (let i = 0; i < RUNS; i++) {
      const salt = `${Date.now().toString(36)}${i}`;
      const a = appsWorkspace(tb, k, `n${salt}`);
      t.get("naive")!.push(await naive(tb, a.dir, k, `n${a.scope}`, dockerConfig));
      for (const [j, [name, { bin, builder }]] of Object.entries(BUILDS).entries()) {
        const b = appsWorkspace(tb, k, `f${j}${salt}`, builder);
        t.get(name)!.push(await flotilla(tb, bin, b.dir, `f${b.scope}`));
      }
      console.error(`  ${k} apps #${i + 1}: ${[...t].map(([name, xs]) => `${name} ${(xs.at(-1)! / 1000).toFixed(2)} s`).join(", ")}`);
    }
    const n = median(t.get("naive")!);
    const cells = Object.keys(BUILDS).map((b) => {
      const f = median(t.get(b)!);
      return `${(f / 1000).toFixed(2)} s | ${(n / f).toFixed(2)}×`;
    });
    rows.push(`| ${k} | ${(n / 1000).toFixed(2)} s | ${cells.join(" | ")} |`);
  }
  console.log(
    `| apps | naive script | ${Object.keys(BUILDS)
      .map((b) => `${b} | naive / ${b}`)
      .join(" | ")} |`,
  );
  console.log(
    `| --- | --- | ${Object.keys(BUILDS)
      .map(() => "--- | ---")
      .join(" | ")} |`,
  );
  for (const r of rows) console.log(r);
} finally {
  if (started) await stopTestbed();
}
