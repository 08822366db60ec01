import pLimit from "p-limit";
import type { Step } from "../plan/publish-plan.ts";

export type StepStatus = "done" | "noop" | "failed" | "skipped";

export interface StepOutcome {
  status: StepStatus;
  /** What happened, for the log ("published", "already there", the skip reason). */
  detail?: string;
  error?: string;
}

export type StepHandler = (step: Step, deps: ReadonlyMap<string, StepOutcome>) => Promise<StepOutcome>;

/**
 * Runs a plan's steps with bounded concurrency. A step starts when its deps have settled; a
 * failed or skipped dep skips it (with the reason) unless the step `settle`s; `requireAllOk`
 * steps need every dep to succeed. Handlers return outcomes; a thrown error is a failure of that
 * step only, so one package's failure never hides what the others did.
 */
export async function runSteps(
  steps: Step[],
  handler: StepHandler,
  opts: { concurrency: number; onSettled?: (step: Step, outcome: StepOutcome) => void },
): Promise<Map<string, StepOutcome>> {
  const limit = pLimit(Math.max(1, opts.concurrency));
  const byId = new Map(steps.map((s) => [s.id, s]));
  const outcomes = new Map<string, StepOutcome>();
  const running = new Map<string, Promise<StepOutcome>>();

  const run = (step: Step): Promise<StepOutcome> => {
    const existing = running.get(step.id);
    if (existing) return existing;
    const p = (async () => {
      const depOutcomes = new Map<string, StepOutcome>();
      for (const id of step.deps) {
        const dep = byId.get(id);
        if (dep) depOutcomes.set(id, await run(dep));
      }
      const bad = [...depOutcomes].filter(([, o]) => o.status === "failed" || o.status === "skipped");
      let outcome: StepOutcome;
      if (bad.length > 0 && !step.settle) {
        const [id, o] = bad[0]!;
        const who = byId.get(id)?.pkg ?? id;
        outcome = {
          status: "skipped",
          detail: step.requireAllOk
            ? `waiting for the whole release: ${who} ${o.status === "failed" ? "failed" : "was skipped"}`
            : `${who} ${o.status === "failed" ? "failed" : "was skipped"}`,
        };
      } else {
        outcome = await limit(async () => {
          try {
            return await handler(step, depOutcomes);
          } catch (err) {
            return { status: "failed" as const, error: (err as Error).message };
          }
        });
      }
      outcomes.set(step.id, outcome);
      opts.onSettled?.(step, outcome);
      return outcome;
    })();
    running.set(step.id, p);
    return p;
  };

  await Promise.all(steps.map(run));
  return outcomes;
}

/** Steps in an order that respects their deps (for a dry run's description). */
export function orderSteps(steps: Step[]): Step[] {
  const done = new Set<string>();
  const out: Step[] = [];
  const byId = new Map(steps.map((s) => [s.id, s]));
  const visit = (s: Step) => {
    if (done.has(s.id)) return;
    done.add(s.id);
    for (const d of s.deps) {
      const dep = byId.get(d);
      if (dep) visit(dep);
    }
    out.push(s);
  };
  for (const s of steps) visit(s);
  return out;
}
