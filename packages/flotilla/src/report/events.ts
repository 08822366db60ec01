import type { StepOutcome } from "../execute/runner.ts";
import type { Step } from "../plan/publish-plan.ts";
import type { Logger } from "./log.ts";

/**
 * `--log-format json`: one JSON object per line on stderr, for users' CI and for the kill-point
 * sweep (tools/sweep), which kills at exact step boundaries. Every line has `event` and `time`.
 * A step that ran has a `start` and an `end`; a step skipped because a dep failed has only an
 * `end` (status "skipped"). Run-level events mark the phases; log lines and any other text on
 * stderr become `log` / `message` events, so every stderr line parses.
 */
export type RunEvent =
  | { event: "plan"; releases: number; steps: number }
  | { event: "lock"; commit: string; waited: boolean }
  | { event: "build"; packages: number; durationMs: number }
  | { event: "pack"; packages: number; durationMs: number }
  | { event: "start"; step: string; kind: Step["kind"]; package: string | null }
  | {
      event: "end";
      step: string;
      kind: Step["kind"];
      package: string | null;
      status: StepOutcome["status"];
      durationMs: number | null;
      detail?: string;
      error?: string;
    }
  | { event: "done"; exitCode: number; durationMs: number };

/** Events of a run as the commands emit them (undefined: text logs only). */
export type EmitEvent = (e: RunEvent) => void;

/** The non-log events, in the order a run emits them (what the sweep counts as kill points). */
export const RUN_EVENTS = new Set<RunEvent["event"]>(["plan", "lock", "build", "pack", "start", "end", "done"]);

/** Writes events as JSON lines; `write` is the CLI's (redacting) stderr. */
export function jsonEvents(write: (s: string) => void): EmitEvent {
  return (e) => write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
}

export function stepStarted(step: Step): RunEvent {
  return { event: "start", step: step.id, kind: step.kind, package: step.pkg ?? null };
}

export function stepEnded(step: Step, o: StepOutcome): RunEvent {
  return {
    event: "end",
    step: step.id,
    kind: step.kind,
    package: step.pkg ?? null,
    status: o.status,
    durationMs: o.durationMs ?? null,
    ...(o.detail ? { detail: o.detail } : {}),
    ...(o.error ? { error: o.error } : {}),
  };
}

/** The Logger of `--log-format json`: info/warn lines and tool output as events on stderr. */
export function jsonLogger(write: (s: string) => void): Logger {
  const emit = (o: Record<string, unknown>) => write(`${JSON.stringify({ ...o, time: new Date().toISOString() })}\n`);
  return {
    info: (message) => emit({ event: "log", level: "info", message }),
    warn: (message) => emit({ event: "log", level: "warn", message }),
    raw: (text) => emit({ event: "output", text }),
    async group(title, fn) {
      emit({ event: "log", level: "info", message: title });
      return fn();
    },
  };
}

/**
 * Any other text bound for stderr (an error's message, commander's usage error) as `message`
 * events, one per line, so stderr stays one JSON object per line.
 */
export function jsonLines(write: (s: string) => void): (s: string) => void {
  return (s) => {
    for (const line of s.replace(/\n$/, "").split("\n"))
      write(`${JSON.stringify({ event: "message", text: line, time: new Date().toISOString() })}\n`);
  };
}
