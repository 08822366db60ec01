import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ciCommand } from "../commands/ci.ts";
import { doctorCommand } from "../commands/doctor.ts";
import { planCommand } from "../commands/plan.ts";
import { publishCommand } from "../commands/publish.ts";
import { versionCommand } from "../commands/version.ts";
import { FlotillaError, formatProblem, InputError, type Problem } from "../errors.ts";
import type { Stage, Step } from "../plan/publish-plan.ts";
import { plainLogger } from "../report/log.ts";
import { renderPlan } from "../report/plan-table.ts";
import type { PublishResult } from "../report/result.ts";
import { listrProgress } from "../report/tty.ts";
import { secretsFromEnv } from "../secrets.ts";

interface GlobalOptions {
  cwd: string;
  config?: string;
  json?: boolean;
  verbose?: boolean;
}

interface ReleaseOptions extends GlobalOptions {
  concurrency?: number;
  filter?: string[];
  only?: Stage[];
  skipBuild?: boolean;
  allowDirty?: boolean;
  dryRun?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  /** stdout is a terminal: show the live task list. */
  isTTY?: boolean;
}

/** All output passes through redaction of the secrets in the environment (SPEC §9). */
function redacting(io: CliIO): CliIO {
  const secrets = secretsFromEnv(io.env);
  return { env: io.env, isTTY: io.isTTY, stdout: (s) => io.stdout(secrets.redact(s)), stderr: (s) => io.stderr(secrets.redact(s)) };
}

const defaultIO: CliIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
};

/** Parses argv, runs one command, prints, and returns the exit code (SPEC §4). */
export async function main(argv: string[], rawIO: CliIO = defaultIO): Promise<number> {
  const io = redacting(rawIO);
  const verbose = argv.includes("--verbose");
  const program = new Command("flotilla")
    .description("Release a pnpm + Turborepo monorepo: npm packages, images, git tags, GitHub releases.")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError();

  const common = (cmd: Command) =>
    cmd
      .addOption(new Option("--cwd <dir>", "workspace folder (default: the current folder)").default(process.cwd()))
      .option("--config <file>", "config file (default: flotilla.config.json in the workspace root)")
      .option("--json", "print the result as JSON on stdout; logs go to stderr")
      .option("--verbose", "show stack traces and debug logs");

  common(program.command("plan"))
    .description("show what the pending changesets will release, and the artifacts of each release (offline)")
    .action(async (opts: GlobalOptions) => {
      const { plan } = await planCommand({ cwd: opts.cwd, configPath: opts.config, env: io.env });
      // Width: COLUMNS, else the terminal's; piped output (files, CI logs) is not wrapped.
      const width = Number(io.env.COLUMNS) || (io.isTTY ? process.stdout.columns : undefined);
      if (opts.json) io.stdout(`${JSON.stringify(plan, null, 2)}\n`);
      else io.stdout(renderPlan(plan, { width, verbose: opts.verbose }));
    });

  const release = (cmd: Command) =>
    common(cmd)
      .option("--concurrency <n>", "steps run at once (default 8)", (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("--concurrency takes a whole number ≥ 1");
        return n;
      })
      .option("--filter <name|glob>", "only these packages (repeatable)", collect)
      .addOption(
        new Option("--only <stage>", "only these stages (repeatable)").choices(["npm", "images", "git", "github"]).argParser(collect),
      )
      .option("--skip-build", "do not run the turbo build/test tasks")
      .option("--allow-dirty", "allow uncommitted changes in the working tree");

  let exitCode = 0;
  common(program.command("version"))
    .description("apply the pending changesets: versions, dependents' ranges, CHANGELOG.md (changesets' own library)")
    .action(async (opts: GlobalOptions) => {
      const log = plainLogger(opts.json ? io.stderr : io.stdout, { githubActions: io.env.GITHUB_ACTIONS === "true", redact: (s) => s });
      const out = await versionCommand({ cwd: opts.cwd, configPath: opts.config, env: io.env, log });
      if (opts.json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    });

  release(program.command("publish"))
    .description("release every version in the workspace that is not yet released (npm, images, git tags, GitHub releases)")
    .option("--dry-run", "read the registries and print what would be done, without doing it")
    .action(async (opts: ReleaseOptions) => {
      const log = plainLogger(opts.json ? io.stderr : io.stdout, { githubActions: io.env.GITHUB_ACTIONS === "true", redact: (s) => s });
      const tty = io.isTTY && !opts.json && io.env.CI !== "true";
      const out = await publishCommand({
        ...opts,
        cwd: opts.cwd,
        configPath: opts.config,
        env: io.env,
        log,
        ...(tty ? { progress: (steps: Step[]) => listrProgress(steps, (t) => secretsFromEnv(io.env).redact(t)) } : {}),
      });
      if (opts.json) io.stdout(`${JSON.stringify(out.result, null, 2)}\n`);
      else if (!out.dryRun) io.stdout(renderResult(out.result));
      exitCode = out.exitCode;
    });

  release(program.command("ci"))
    .description('on the release branch: pending changesets → the "Version Packages" pull request; none → publish')
    .action(async (opts: ReleaseOptions) => {
      const log = plainLogger(opts.json ? io.stderr : io.stdout, { githubActions: io.env.GITHUB_ACTIONS === "true", redact: (s) => s });
      const out = await ciCommand({ ...opts, cwd: opts.cwd, configPath: opts.config, env: io.env, log });
      if (io.env.GITHUB_OUTPUT) {
        const core = await import("@actions/core");
        core.setOutput("hasChangesets", out.hasChangesets ? "true" : "false");
        if (out.pullRequest) core.setOutput("pullRequestNumber", String(out.pullRequest.number));
      }
      if (opts.json)
        io.stdout(
          `${JSON.stringify({ hasChangesets: out.hasChangesets, pullRequest: out.pullRequest ?? null, ...(out.publish ? out.publish.result : {}) }, null, 2)}\n`,
        );
      else if (out.publish && !out.publish.dryRun) io.stdout(renderResult(out.publish.result));
      exitCode = out.publish?.exitCode ?? 0;
    });

  common(program.command("doctor"))
    .description("check config, tokens, registry reachability and auth, the Docker daemon and the git remote")
    .option("--filter <name|glob>", "only these packages (repeatable)", collect)
    .addOption(
      new Option("--only <stage>", "only these stages (repeatable)").choices(["npm", "images", "git", "github"]).argParser(collect),
    )
    .action(async (opts: ReleaseOptions) => {
      const lines = await doctorCommand({
        ...opts,
        configPath: opts.config,
        env: io.env,
        print: (l) => {
          if (opts.json) return;
          io.stdout(`${l.ok ? "✓" : "✗"} ${l.name}\n`);
          for (const d of l.details) io.stdout(`    ${d}\n`);
        },
      });
      if (opts.json) io.stdout(`${JSON.stringify({ checks: lines }, null, 2)}\n`);
      exitCode = lines.every((l) => l.ok) ? 0 : 2;
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    return reportError(err, io, verbose);
  }
}

function reportError(err: unknown, io: CliIO, verbose: boolean): number {
  if (err instanceof InputError) {
    io.stderr(`flotilla: ${err.problems.length === 1 ? "1 problem" : `${err.problems.length} problems`}, nothing was changed:\n`);
    for (const p of err.problems) io.stderr(`${indent(formatProblem(p))}\n`);
    if (io.env.GITHUB_ACTIONS === "true") for (const p of err.problems) io.stderr(`${annotation(p)}\n`);
    if (verbose) io.stderr(`${err.stack}\n`);
    return 2;
  }
  if (err instanceof FlotillaError) {
    io.stderr(`flotilla: ${err.message}\n`);
    if (verbose) io.stderr(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  io.stderr(`flotilla: unexpected error: ${e.message}\n`);
  io.stderr(verbose ? `${e.stack}\n` : "  (run again with --verbose for the stack trace)\n");
  return 1;
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** A GitHub Actions `::error` workflow command (escaping per the documented format). */
function annotation(p: Problem): string {
  const esc = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const props = [p.file ? `file=${esc(p.file).replace(/,/g, "%2C").replace(/:/g, "%3A")}` : "", p.line ? `line=${p.line}` : ""]
    .filter(Boolean)
    .join(",");
  return `::error${props ? ` ${props}` : ""}::${esc(p.message)}`;
}

function renderResult(r: PublishResult): string {
  const changed = r.releases.filter((x) => x.status !== "already-released");
  if (changed.length === 0) return "";
  const lines = ["", "Result:"];
  for (const x of changed) lines.push(`  ${x.status.padEnd(9)} ${x.name}@${x.version}${x.error ? ` — ${x.error}` : ""}`);
  const n = r.releases.filter((x) => x.status === "already-released").length;
  if (n) lines.push(`  (${n} already released)`);
  return `${lines.join("\n")}\n`;
}
