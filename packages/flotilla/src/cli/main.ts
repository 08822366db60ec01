import { Command, CommanderError, Option } from "commander";
import { planCommand } from "../commands/plan.ts";
import { FlotillaError, formatProblem, InputError, type Problem } from "../errors.ts";
import { renderPlan } from "../report/plan-table.ts";

interface GlobalOptions {
  cwd: string;
  config?: string;
  json?: boolean;
  verbose?: boolean;
}

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
}

const defaultIO: CliIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

/** Parses argv, runs one command, prints, and returns the exit code (SPEC §4). */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
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
      if (opts.json) io.stdout(`${JSON.stringify(plan, null, 2)}\n`);
      else io.stdout(renderPlan(plan));
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
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
