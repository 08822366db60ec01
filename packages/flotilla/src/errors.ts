/**
 * Typed errors. The library throws these; only the CLI prints them and picks the exit code
 * (STYLE 4). `InputError` is a user mistake found before any side effect: exit 2.
 */

export interface Problem {
  /** Stable identifier, e.g. `CHANGESET_UNKNOWN_PACKAGE`; tests match on it. */
  code: string;
  /** What is wrong, naming the value at fault. */
  message: string;
  /** The file at fault, relative to the workspace root when inside it. */
  file?: string;
  /** 1-based line inside `file`, when known (used for `::error file=,line=` annotations). */
  line?: number;
  /** The config field or package name at fault. */
  field?: string;
  /** The workspace package at fault, when one is (the `package` of the `--json` error document). */
  package?: string;
  /** What fixes it. */
  hint?: string;
}

export class FlotillaError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad input, bad config or failed preflight: nothing was changed. Exit 2. */
export class InputError extends FlotillaError {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"), 2);
    this.problems = problems;
  }
}

/** A failure after side effects began. Exit 1; a rerun resumes. */
export class ReleaseError extends FlotillaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 1, options);
  }
}

export function formatProblem(p: Problem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ""}: ` : "";
  const field = p.field ? `${p.field}: ` : "";
  return `${where}${field}${p.message}${p.hint ? `\n  fix: ${p.hint}` : ""}`;
}

/** Collects problems across checks so all of them are reported at once (STYLE 8). */
export class ProblemList {
  readonly items: Problem[] = [];
  add(p: Problem): void {
    this.items.push(p);
  }
  throwIfAny(): void {
    if (this.items.length > 0) throw new InputError(this.items);
  }
}
