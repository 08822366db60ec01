import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { prereleaseChannel } from "../plan/dist-tag.ts";
import { imageTagsFor } from "../plan/image-tags.ts";
import { type PublishPlan, type PublishPlanInput, planPublish, type RegistryState } from "../plan/publish-plan.ts";

/**
 * The release record (issue 12): the last thing a successful release writes, and the first thing
 * a rerun reads, so that a no-op costs one request to origin instead of one per package.
 *
 * It is a ref on origin, `refs/flotilla/released/<commit>/<coverage>`, pointing at a blob (JSON)
 * that lists every artifact the release covers (npm versions with their dist-tag, images with
 * their tags and digest, git tags, releases). `<coverage>` is a hash of exactly what the plan
 * checks for this commit with these options (stages, --filter, packages, versions, registries,
 * image names and tags, git tags, releases): a record written for another scope, another config
 * or another set of versions has another name and is never found. Only flotilla writes under
 * refs/flotilla/, and only after every step of a run ended well — a release made by another
 * tool has no record, so its next run reads every registry (the full diff). A run killed before
 * the record was pushed left no record: the rerun reads everything. `--verify` ignores it.
 */
export const RECORD_PREFIX = "refs/flotilla/released";
const SCHEMA = 1;

export interface ReleaseRecord {
  schema: typeof SCHEMA;
  commit: string;
  coverage: string;
  artifacts: {
    name: string;
    version: string;
    npm?: { registry: string; distTag: string };
    image?: { name: string; tags: string[]; digest: string };
    gitTag?: string;
    release?: string;
  }[];
}

type Inputs = Omit<PublishPlanInput, "state">;

/**
 * What the sources of truth hold once every version of `input` is released: the state a
 * complete release leaves, as far as the planner looks at it. `digests` (from a record) name
 * each image; the coverage does not depend on them.
 */
export function releasedState(input: Inputs, digests: ReadonlyMap<string, string> = new Map()): RegistryState {
  const npm = new Map<string, { versions: Set<string>; distTags: Record<string, string> }>();
  const images = new Map<string, { tags: string[]; digests: Map<string, string | null> }>();
  const tags = new Set<string>();
  for (const p of input.workspace.packages) {
    if (input.only && !input.only.has(p.name)) continue;
    const channel = prereleaseChannel(p.version);
    npm.set(p.name, { versions: new Set([p.version]), distTags: { latest: p.version, ...(channel ? { [channel]: p.version } : {}) } });
    const image = input.imageNames.get(p.name);
    if (image) {
      const t = imageTagsFor(p.version, [], { kinds: input.config.images.tags, ...(input.sha ? { sha: input.sha } : {}) }).tags;
      const digest = digests.get(image) ?? "sha256:recorded";
      images.set(image, { tags: t, digests: new Map(t.map((tag) => [tag, digest])) });
    }
    tags.add(`${p.name}@${p.version}`);
  }
  return { npm, remoteTags: tags, localTags: new Set(), images, releases: tags };
}

/** The plan of a complete release of `input`: every unit with nothing to do (the planner decides what it would check). */
export function releasedPlan(input: Inputs, digests?: ReadonlyMap<string, string>): PublishPlan {
  return planPublish({ ...input, state: releasedState(input, digests) });
}

/**
 * The plan of a no-op answered by `rec`: nothing to do, and what it reports is what the record
 * says was released — each npm version's dist-tag and each image's tags as the releasing run
 * decided them from the registries (a backport's `latest-1`, no `latest`), not as `releasedState`
 * imagines them (every version the newest).
 */
export function recordedPlan(input: Inputs, rec: ReleaseRecord): PublishPlan {
  const plan = releasedPlan(input, recordDigests(rec));
  const recorded = new Map(rec.artifacts.map((a) => [`${a.name}@${a.version}`, a]));
  const units = plan.units.map((u) => {
    const a = recorded.get(`${u.name}@${u.version}`);
    const npm = u.npm && a?.npm ? { ...u.npm, distTag: a.npm.distTag } : u.npm;
    const image =
      u.image && a?.image
        ? { ...u.image, tags: a.image.tags, floating: a.image.tags.filter((t) => t !== u.image!.versionTag), moves: [] }
        : u.image;
    return { ...u, npm, image };
  });
  return Object.freeze({ ...plan, units });
}

/** Hash of exactly what the plan checks (SPEC §5.3) for this commit and these options. */
export function coverageOf(input: Inputs): string {
  const plan = releasedPlan(input);
  const what = {
    schema: SCHEMA,
    commit: input.sha ?? "",
    stages: [...input.stages].sort(),
    only: input.only ? [...input.only].sort() : null,
    units: plan.units.map((u) => ({
      name: u.name,
      version: u.version,
      npm: u.npm ? u.npm.registry : null,
      image: u.image ? [u.image.name, ...u.image.tags] : null,
      gitTag: u.gitTag?.tag ?? null,
      release: u.release?.tag ?? null,
    })),
  };
  return createHash("sha256").update(JSON.stringify(what)).digest("hex").slice(0, 40);
}

/** The record of what `plan` released, with the image digests its steps reported. */
export function recordOf(input: Inputs, plan: PublishPlan, digests: ReadonlyMap<string, string>): ReleaseRecord {
  return {
    schema: SCHEMA,
    commit: input.sha ?? "",
    coverage: coverageOf(input),
    artifacts: plan.units.map((u) => ({
      name: u.name,
      version: u.version,
      ...(u.npm ? { npm: { registry: u.npm.registry, distTag: u.npm.distTag } } : {}),
      ...(u.image ? { image: { name: u.image.name, tags: u.image.tags, digest: digests.get(u.image.name) ?? u.image.digest ?? "" } } : {}),
      ...(u.gitTag ? { gitTag: u.gitTag.tag } : {}),
      ...(u.release ? { release: u.release.tag } : {}),
    })),
  };
}

const refOf = (commit: string, coverage: string) => `${RECORD_PREFIX}/${commit}/${coverage}`;

function git(cwd: string, args: string[], input?: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile("git", args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/**
 * The record of `commit` covering `coverage`, fetched from origin in one request (a missing
 * ref is "no record"); undefined when there is none or it cannot be read (then: the full diff).
 */
export async function readRecord(cwd: string, commit: string, coverage: string): Promise<ReleaseRecord | undefined> {
  const ref = refOf(commit, coverage);
  // No auto-maintenance after this one-ref fetch (it started a `git maintenance` process per run).
  const fetched = await git(cwd, ["-c", "maintenance.auto=false", "fetch", "--quiet", "--no-tags", "origin", `+${ref}:${ref}`]);
  if (!fetched.ok) return undefined;
  const blob = await git(cwd, ["cat-file", "blob", ref]);
  try {
    const rec = JSON.parse(blob.stdout) as ReleaseRecord;
    return rec.schema === SCHEMA && rec.commit === commit && rec.coverage === coverage ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** The record as a local blob, and the refspec that puts it on origin (`<blob>:<ref>`). */
export async function recordRefspec(cwd: string, rec: ReleaseRecord): Promise<string> {
  const blob = await git(cwd, ["hash-object", "-w", "--stdin"], `${JSON.stringify(rec, null, 2)}\n`);
  if (!blob.ok) throw new Error(`git hash-object failed: ${blob.stderr.trim()}`);
  return `${blob.stdout.trim()}:${refOf(rec.commit, rec.coverage)}`;
}

/** Pushes the record to origin (a blob and its ref; the ref never moves once written). */
export async function writeRecord(cwd: string, rec: ReleaseRecord): Promise<void> {
  const refspec = await recordRefspec(cwd, rec);
  const pushed = await git(cwd, ["push", "--quiet", "origin", refspec]);
  if (!pushed.ok && !/already exists|\[rejected\]/.test(pushed.stderr))
    throw new Error(`git push ${refspec.split(":")[1]} failed: ${pushed.stderr.trim()}`);
}

/** Image name → digest, from a record. */
export const recordDigests = (rec: ReleaseRecord) =>
  new Map(rec.artifacts.flatMap((a) => (a.image?.digest ? [[a.image.name, a.image.digest] as const] : [])));
