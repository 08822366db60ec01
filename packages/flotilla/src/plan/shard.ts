import { InputError } from "../errors.ts";
import type { PublishPlan, ReleaseUnit, Step } from "./publish-plan.ts";

/**
 * Fan-out (SPEC §11): the artifact steps of a plan grouped per runner. Pure.
 *
 * Shard ids: `npm` (every npm publish of the commit: they wait for each other in dependency
 * order, so they stay on one runner), and one per image build, `image:<pkg>` or
 * `image:<pkg>:<platform>` when the app names platforms. A shard runs only artifact steps: no
 * floating pointer, git tag or GitHub release; the final plain run finds those left in the diff.
 */
export interface MatrixEntry {
  shard: string;
}

/** The shard an artifact step belongs to; undefined for every other step (left to the final run). */
export function shardOf(step: Step): string | undefined {
  if (step.kind === "npm-publish") return "npm";
  if (step.kind === "image-build-push")
    return step.payload.platform ? `image:${step.payload.pkg}:${step.payload.platform}` : `image:${step.payload.pkg}`;
  return undefined;
}

/** GitHub Actions' `strategy.matrix` for what is left to release: `{ include: [] }` when nothing is. */
export function matrixOf(plan: PublishPlan): { include: MatrixEntry[] } {
  const ids = [...new Set(plan.steps.flatMap((s) => shardOf(s) ?? []))];
  // npm first (it usually feeds nothing else, but is the longest chain), then images by name.
  ids.sort((a, b) => (a === "npm" ? -1 : b === "npm" ? 1 : a.localeCompare(b)));
  return { include: ids.map((shard) => ({ shard })) };
}

const SHARD_ID = /^(npm|image:(@[\w.-]+\/)?[\w.-]+(:[\w.-]+\/[\w.-]+(\/[\w.-]+)?)?)$/;

/**
 * The plan restricted to one shard: its artifact steps (edges to steps of other shards dropped:
 * shards run at once on separate runners, and only the final run orders anything after them),
 * and its units reduced to those artifacts, so the report names what this runner released.
 * A well-formed id with no step left (a rerun of a finished shard) gives an empty plan.
 */
export function shardPlan(plan: PublishPlan, shard: string): PublishPlan {
  if (!SHARD_ID.test(shard)) {
    throw new InputError([
      {
        code: "SHARD_INVALID",
        field: "--shard",
        message: `${JSON.stringify(shard)} is not a shard id`,
        hint: 'pass an entry of `flotilla matrix`: "npm", "image:<package>" or "image:<package>:<os/arch>"',
      },
    ]);
  }
  // A well-formed id naming no image of this workspace is a typo, not a finished shard.
  const imagePkg = shard.startsWith("image:") ? shard.split(":")[1] : undefined;
  if (imagePkg !== undefined && !plan.units.some((u) => u.name === imagePkg && u.image)) {
    throw new InputError([
      {
        code: "SHARD_UNKNOWN",
        field: "--shard",
        message: `${JSON.stringify(shard)} names no image of this workspace (${imagePkg})`,
        hint: "pass an entry printed by `flotilla matrix` for this commit",
      },
    ]);
  }
  const steps = plan.steps.filter((s) => shardOf(s) === shard);
  const ids = new Set(steps.map((s) => s.id));
  const kept = steps.map(
    (s) => ({ ...s, deps: s.deps.filter((d) => ids.has(d)), ...(s.after ? { after: s.after.filter((d) => ids.has(d)) } : {}) }) as Step,
  );
  const pkgs = new Set(kept.map((s) => s.pkg));
  const units: ReleaseUnit[] = plan.units
    .filter((u) => pkgs.has(u.name))
    .map((u) => ({
      ...u,
      npm: shard === "npm" ? u.npm : null,
      image: shard === "npm" ? null : u.image,
      gitTag: null,
      release: null,
      hasWork: true,
    }));
  return { ...plan, latest: null, units, steps: kept };
}
