import pLimit from "p-limit";
import { isFloating, type Step } from "../plan/publish-plan.ts";

export type StepStatus = "done" | "noop" | "failed" | "skipped" | "planned";

/** What a step produced that others (and the report) need: results travel here, not in shared maps. */
export interface StepResult {
  /** Image manifest digest (image steps). */
  digest?: string;
  /** Release URL (github-release). */
  url?: string;
  /** Tags a combined release covered. */
  covers?: string[];
}

export interface StepOutcome {
  status: StepStatus;
  /** What happened, for the log ("published", "already there", the skip reason, the description). */
  detail?: string;
  error?: string;
  /** The thrown error, kept for --verbose. */
  cause?: unknown;
  result?: StepResult;
  durationMs?: number;
}

/** The handlers as the runner sees them: one line saying what a step does, and doing it. */
export interface StepHandlers {
  describe(step: Step): string;
  run(step: Step, deps: ReadonlyMap<string, StepOutcome>): Promise<Omit<StepOutcome, "durationMs">>;
}

/** The service a step's requests go to: steps of different services do not wait for each other's slots. */
const SERVICE: Record<Step["kind"], string> = {
  "npm-publish": "npm",
  "npm-dist-tag": "npm",
  "image-build-push": "images",
  "image-index": "images",
  "image-promote": "images",
  "git-tag": "git",
  "github-release": "github",
};

const ok = (o: StepOutcome | undefined) => o?.status === "done" || o?.status === "noop";

/**
 * Runs a plan's steps with bounded concurrency per service, or — in describe mode — reports each as
 * `planned` with the handler's own description (the dry run cannot drift from the run).
 * A step starts once its `deps` and `after` have ended; it runs only when every dep ended done
 * or noop, else it is skipped with the reason. A thrown error fails that step only.
 */
export async function runSteps(
  steps: readonly Step[],
  handlers: StepHandlers,
  opts: {
    concurrency: number;
    mode?: "run" | "describe";
    /** A step's handler is about to run (not called for skipped or described steps). */
    onStart?: (step: Step) => void;
    onSettled?: (step: Step, outcome: StepOutcome) => void;
  },
): Promise<Map<string, StepOutcome>> {
  // One pool of slots per service, so a step waiting on one service never holds a slot another
  // service's steps need (tag steps waiting for their batched push used to fill the slots while
  // no npm upload ran). Git tags take no slot: the tag adapter batches them and pushes one batch
  // at a time itself. `--concurrency 1` keeps one pool: every step alone, in order.
  const serial = opts.concurrency <= 1;
  const pools = new Map<string, ReturnType<typeof pLimit>>();
  const limitFor = (step: Step) => {
    const service = serial ? "all" : SERVICE[step.kind];
    let pool = pools.get(service);
    if (!pool) {
      pool = pLimit(service === "git" ? Number.POSITIVE_INFINITY : Math.max(1, opts.concurrency));
      pools.set(service, pool);
    }
    return pool;
  };
  const byId = new Map(steps.map((s) => [s.id, s]));
  const outcomes = new Map<string, StepOutcome>();
  const running = new Map<string, Promise<StepOutcome>>();
  const describe = opts.mode === "describe";

  const run = (step: Step): Promise<StepOutcome> => {
    const existing = running.get(step.id);
    if (existing) return existing;
    const p = (async () => {
      const depOutcomes = new Map<string, StepOutcome>();
      for (const id of [...step.deps, ...(step.after ?? [])]) {
        const dep = byId.get(id);
        if (dep) depOutcomes.set(id, await run(dep));
      }
      const bad = step.deps.filter((id) => byId.has(id) && !ok(depOutcomes.get(id)));
      let outcome: StepOutcome;
      const settle = (o: StepOutcome) => {
        outcomes.set(step.id, o);
        opts.onSettled?.(step, o);
        return o;
      };
      if (describe) {
        outcome = { status: "planned", detail: handlers.describe(step) };
      } else if (bad.length > 0) {
        const id = bad[0]!;
        const o = depOutcomes.get(id)!;
        const who = byId.get(id)?.pkg ?? id;
        const why = `${who} ${o.status === "failed" ? "failed" : "was skipped"}`;
        outcome = { status: "skipped", detail: isFloating(step) ? `waiting for the whole release: ${why}` : why };
      } else {
        // Settled inside the slot: a step's end is reported before the next step starts (the
        // events of --log-format json come in the order things happened).
        return limitFor(step)(async () => {
          const started = Date.now();
          opts.onStart?.(step);
          let o: StepOutcome;
          try {
            o = { ...(await handlers.run(step, depOutcomes)), durationMs: Date.now() - started };
          } catch (err) {
            o = { status: "failed", error: (err as Error).message, cause: err, durationMs: Date.now() - started };
          }
          return settle(o);
        });
      }
      return settle(outcome);
    })();
    running.set(step.id, p);
    return p;
  };

  await Promise.all(steps.map(run));
  return outcomes;
}
