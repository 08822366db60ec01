import { describeStep } from "../execute/describe.ts";
import type { StepOutcome } from "../execute/runner.ts";
import type { Step } from "../plan/publish-plan.ts";

/** Live progress of the executor's steps. */
export interface Progress {
  settled(step: Step, outcome: StepOutcome): void;
  /** Resolves when the display has finished drawing. */
  done(): Promise<void>;
}

/**
 * The live task list on a terminal (listr2): one line per step, with its outcome. It mirrors
 * the executor (which decides order and concurrency); it never runs anything itself.
 */
export async function listrProgress(steps: Step[], redact: (s: string) => string = (s) => s): Promise<Progress> {
  const { Listr } = await import("listr2");
  const waiting = new Map<string, (o: StepOutcome) => void>();
  const outcomes = new Map<string, Promise<StepOutcome>>();
  for (const s of steps) outcomes.set(s.id, new Promise((resolve) => waiting.set(s.id, resolve)));
  const list = new Listr(
    steps.map((s) => ({
      title: redact(describeStep(s)),
      task: async (_ctx: unknown, task: { skip: (m: string) => void; title: string }) => {
        const o = await outcomes.get(s.id)!;
        if (o.status === "failed") throw new Error(redact(`${describeStep(s)}: ${o.error ?? "failed"}`));
        if (o.status === "skipped") task.skip(redact(`${describeStep(s)} — skipped: ${o.detail ?? ""}`));
        else if (o.detail) task.title = redact(o.detail);
      },
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false, collapseSkips: false } },
  );
  const running = list.run().catch(() => {});
  return {
    settled: (step, outcome) => waiting.get(step.id)?.(outcome),
    done: async () => {
      await running;
    },
  };
}
