import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { FlotillaError, formatProblem, InputError, type Problem } from "../errors.ts";
import type { Stage, Step } from "../plan/publish-plan.ts";
import { jsonEvents, jsonLines, jsonLogger } from "../report/events.ts";
import { type Logger, plainLogger } from "../report/log.ts";
import type { PublishResult } from "../report/result.ts";
import { secretsFromEnv } from "../secrets.ts";

// Each command's module is imported inside its action, so `plan` does not load npm's, Docker's
// and GitHub's clients (start-up time: issue 8). Only leaves are imported above.

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
  logFormat?: "text" | "json";
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

const STAGES: Stage[] = ["npm", "images", "git", "github"];

/** `--only` is repeatable: commander's `.choices()` parser does not collect, so this one checks and collects. */
const collectStage = (v: string, prev: Stage[] = []): Stage[] => {
  if (!(STAGES as string[]).includes(v)) throw new InvalidArgumentError(`"${v}" is not a stage; use ${STAGES.join(", ")}`);
  return [...prev, v as Stage];
};

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
  const redacted = redacting(rawIO);
  // --log-format json: every stderr line is a JSON object; events and logs are written as such,
  // any other text (errors, usage) is wrapped line by line. Read from argv so errors before or
  // during parsing are wrapped too.
  const logJson = logFormatOf(argv) === "json";
  const io: CliIO = logJson ? { ...redacted, stderr: jsonLines(redacted.stderr) } : redacted;
  const releaseLogger = (opts: ReleaseOptions): Logger =>
    opts.logFormat === "json"
      ? jsonLogger(redacted.stderr)
      : plainLogger(opts.json ? io.stderr : io.stdout, { githubActions: io.env.GITHUB_ACTIONS === "true", redact: (s) => s });
  const events = logJson ? jsonEvents(redacted.stderr) : undefined;
  const started = Date.now();
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
      const { planCommand } = await import("../commands/plan.ts");
      const { renderPlan } = await import("../report/plan-table.ts");
      const { plan } = await planCommand({ cwd: opts.cwd, configPath: opts.config, env: io.env });
      // Width: COLUMNS, else the terminal's; piped output (files, CI logs) is not wrapped.
      const width = Number(io.env.COLUMNS) || (io.isTTY ? process.stdout.columns : undefined);
      if (opts.json) io.stdout(`${JSON.stringify(plan, null, 2)}\n`);
      else io.stdout(renderPlan(plan, { width, verbose: opts.verbose }));
    });

  const release = (cmd: Command) =>
    common(cmd)
      .option("--concurrency <n>", "steps run at once per service (default 8; 1: one step at a time)", (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("--concurrency takes a whole number ≥ 1");
        return n;
      })
      .option("--filter <name|glob>", "only these packages (repeatable)", collect)
      .addOption(new Option("--only <stage>", "only these stages (repeatable)").choices(STAGES).argParser(collectStage))
      .option("--skip-build", "do not run the build tasks (build.tasks: turbo, or pnpm without turbo.json)")
      .addOption(
        new Option("--log-format <format>", "text, or json: one JSON event per line on stderr (step start/end, plan, lock, done)")
          .choices(["text", "json"])
          .default("text"),
      )
      .option("--allow-dirty", "allow uncommitted changes in the working tree")
      .option("--verify", "read every registry, even where origin's release record says everything is released");

  let exitCode = 0;
  common(program.command("version"))
    .description("apply the pending changesets: versions, dependents' ranges, CHANGELOG.md (changesets' own library)")
    .action(async (opts: GlobalOptions) => {
      const log = plainLogger(opts.json ? io.stderr : io.stdout, { githubActions: io.env.GITHUB_ACTIONS === "true", redact: (s) => s });
      const { versionCommand } = await import("../commands/version.ts");
      const out = await versionCommand({ cwd: opts.cwd, configPath: opts.config, env: io.env, log });
      if (opts.json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    });

  release(program.command("publish"))
    .description("release every version in the workspace that is not yet released (npm, images, git tags, GitHub releases)")
    .option("--dry-run", "read the registries and print what would be done, without doing it")
    .option("--shard <id>", "run one entry of `flotilla matrix` (its artifacts only: no floating tags, git tags or releases)")
    .action(async (opts: ReleaseOptions) => {
      const log = releaseLogger(opts);
      const tty = io.isTTY && !opts.json && io.env.CI !== "true" && !events;
      const { publishCommand } = await import("../commands/publish.ts");
      const { listrProgress } = tty ? await import("../report/tty.ts") : { listrProgress: undefined };
      const out = await publishCommand({
        ...opts,
        cwd: opts.cwd,
        configPath: opts.config,
        env: io.env,
        log,
        ...(events ? { events } : {}),
        ...(listrProgress ? { progress: (steps: Step[]) => listrProgress(steps, (t) => secretsFromEnv(io.env).redact(t)) } : {}),
      });
      if (opts.json) io.stdout(`${JSON.stringify(out.result, null, 2)}\n`);
      else if (!out.dryRun) io.stdout(renderResult(out.result));
      exitCode = out.exitCode;
    });

  release(program.command("ci"))
    .description('on the release branch: pending changesets → the "Version Packages" pull request; none → publish')
    .option("--dry-run", "read the registries and print what would be done (pull request or publish), without doing it")
    .action(async (opts: ReleaseOptions) => {
      const log = releaseLogger(opts);
      const { ciCommand } = await import("../commands/ci.ts");
      const out = await ciCommand({ ...opts, cwd: opts.cwd, configPath: opts.config, env: io.env, log, ...(events ? { events } : {}) });
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

  common(program.command("matrix"))
    .description("print what is left to release at this commit as a GitHub Actions matrix (one entry per image, one for npm)")
    .option("--filter <name|glob>", "only these packages (repeatable)", collect)
    .addOption(new Option("--only <stage>", "only these stages (repeatable)").choices(STAGES).argParser(collectStage))
    .action(async (opts: ReleaseOptions) => {
      const { matrixCommand } = await import("../commands/matrix.ts");
      const matrix = await matrixCommand({ ...opts, configPath: opts.config, env: io.env });
      io.stdout(`${JSON.stringify(matrix)}\n`);
    });

  common(program.command("doctor"))
    .description("check config, tokens, registry reachability and auth, the Docker daemon and the git remote")
    .option("--filter <name|glob>", "only these packages (repeatable)", collect)
    .addOption(new Option("--only <stage>", "only these stages (repeatable)").choices(STAGES).argParser(collectStage))
    .action(async (opts: ReleaseOptions) => {
      const { doctorCommand } = await import("../commands/doctor.ts");
      const lines = await doctorCommand({
        ...opts,
        configPath: opts.config,
        env: io.env,
        print: (l) => {
          if (opts.json) return;
          io.stdout(l.skipped ? `– ${l.name} (not checked: ${l.skipped})\n` : `${l.ok ? "✓" : "✗"} ${l.name}\n`);
          for (const d of l.details) io.stdout(`    ${d}\n`);
        },
      });
      if (opts.json) io.stdout(`${JSON.stringify({ checks: lines }, null, 2)}\n`);
      exitCode = lines.every((l) => l.ok) ? 0 : 2;
    });

  const json = argv.includes("--json");
  const code = await (async () => {
    try {
      await program.parseAsync(argv, { from: "user" });
      return exitCode;
    } catch (err) {
      if (err instanceof CommanderError) {
        // --help and --version end here too, with exit code 0; commander already printed its message.
        if (err.exitCode === 0) return 0;
        if (json) printErrorDocument(io, 2, [{ code: "USAGE", message: err.message.replace(/^error: /, ""), fix: "see flotilla --help" }]);
        return 2;
      }
      return reportError(err, io, { verbose, json });
    }
  })();
  events?.({ event: "done", exitCode: code, durationMs: Date.now() - started });
  return code;
}

/** One problem of the `--json` error document (issue 8): absent fields are unknown. */
export interface ErrorDocumentProblem {
  code: string;
  message: string;
  file?: string;
  line?: number;
  package?: string;
  field?: string;
  fix?: string;
}

/** `{ "error": { "exitCode", "problems": [...] } }` on stdout: the one document a failed `--json` run prints. */
function printErrorDocument(io: CliIO, exitCode: number, problems: ErrorDocumentProblem[]): void {
  io.stdout(`${JSON.stringify({ error: { exitCode, problems } }, null, 2)}\n`);
}

function toDocumentProblem(p: Problem): ErrorDocumentProblem {
  // A field naming a scoped package (`@scope/name`) is the package at fault; config paths never start with "@".
  const pkg = p.package ?? (p.field?.startsWith("@") ? p.field : undefined);
  return {
    code: p.code,
    message: p.message,
    ...(p.file ? { file: p.file } : {}),
    ...(p.line ? { line: p.line } : {}),
    ...(pkg ? { package: pkg } : {}),
    ...(p.field && p.field !== pkg ? { field: p.field } : {}),
    ...(p.hint ? { fix: p.hint } : {}),
  };
}

/** The one place an error becomes an exit code and its messages (human text on stderr, the document on stdout). */
function reportError(err: unknown, io: CliIO, opts: { verbose: boolean; json: boolean }): number {
  const { verbose, json } = opts;
  if (err instanceof InputError) {
    io.stderr(`flotilla: ${err.problems.length === 1 ? "1 problem" : `${err.problems.length} problems`}, nothing was changed:\n`);
    for (const p of err.problems) io.stderr(`${indent(formatProblem(p))}\n`);
    if (io.env.GITHUB_ACTIONS === "true") for (const p of err.problems) io.stderr(`${annotation(p)}\n`);
    if (verbose) io.stderr(`${err.stack}\n`);
    if (json) printErrorDocument(io, 2, err.problems.map(toDocumentProblem));
    return 2;
  }
  if (err instanceof FlotillaError) {
    io.stderr(`flotilla: ${err.message}\n`);
    if (verbose) io.stderr(`${err.stack}\n`);
    if (json)
      printErrorDocument(io, err.exitCode, [
        {
          code: err.exitCode === 1 ? "RELEASE_FAILED" : "FAILED",
          message: err.message,
          fix: "fix the cause above and run the same command again: it resumes where this run stopped",
        },
      ]);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  io.stderr(`flotilla: unexpected error: ${e.message}\n`);
  io.stderr(verbose ? `${e.stack}\n` : "  (run again with --verbose for the stack trace)\n");
  if (json)
    printErrorDocument(io, 1, [
      { code: "UNEXPECTED_ERROR", message: e.message, fix: "run again with --verbose for the stack trace, and report it" },
    ]);
  return 1;
}

/** The value of `--log-format` in argv (either `--log-format json` or `--log-format=json`). */
function logFormatOf(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === "--log-format" || a.startsWith("--log-format="));
  if (i < 0) return undefined;
  return argv[i]!.includes("=") ? argv[i]!.split("=")[1] : argv[i + 1];
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
  const changed = r.releases.filter((x) => x.status !== "already-released" && x.status !== "private");
  if (changed.length === 0) return "";
  const lines = ["", "Result:"];
  for (const x of changed) lines.push(`  ${x.status.padEnd(9)} ${x.name}@${x.version}${x.error ? ` — ${x.error}` : ""}`);
  const n = r.releases.filter((x) => x.status === "already-released").length;
  if (n) lines.push(`  (${n} already released)`);
  return `${lines.join("\n")}\n`;
}
