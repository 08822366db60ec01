import { describeStep } from "../execute/describe.ts";
import type { StepOutcome } from "../execute/runner.ts";
import type { PublishPlan, ReleaseUnit } from "../plan/publish-plan.ts";

/**
 * SPEC §7's statuses, plus `private`: a private package with nothing to release (no npm, no
 * image, no git tag) is versioned in the workspace only; it is not "already released".
 */
export type ReleaseStatus = "published" | "already-released" | "failed" | "skipped" | "private" | "planned";

/** One entry of the `--json` document (SPEC §7). */
export interface ReleaseResult {
  name: string;
  version: string;
  status: ReleaseStatus;
  npm: { name: string; version: string; registry: string; distTag: string } | null;
  image: { name: string; tags: string[]; digest: string | null } | null;
  gitTag: string | null;
  release: { url: string } | null;
  error?: string;
}

export interface PublishResult {
  releases: ReleaseResult[];
  durationMs: number;
}

/** Folds step outcomes into one status per release: failed > skipped > planned > published > already-released. */
export function summarize(plan: PublishPlan, outcomes: ReadonlyMap<string, StepOutcome>): ReleaseResult[] {
  return plan.units.map((u) => {
    const own = plan.steps
      .filter(
        (s) =>
          s.pkg === u.name ||
          (s.kind === "github-release" && s.payload.combined?.some((c) => c.tag === u.release?.tag && u.release?.action === "create")),
      )
      .map((s) => [s, outcomes.get(s.id)] as const);
    const failed = own.find(([, o]) => o?.status === "failed");
    const skipped = own.find(([s, o]) => o?.status === "skipped" && (s.pkg === u.name || u.release?.action === "create"));
    const did = own.some(([, o]) => o?.status === "done");
    let status: ReleaseStatus = !u.hasWork ? "already-released" : "published";
    let error: string | undefined;
    if (failed) {
      status = "failed";
      error = `${describeStep(failed[0])}: ${failed[1]?.error ?? "failed"}`;
    } else if (skipped) {
      status = "skipped";
      error = `skipped: ${skipped[1]?.detail ?? "a dependency did not release"}`;
    } else if (u.missing.length > 0) {
      // --only without an artifact's stage, and the artifact is not there: no tag (SPEC §5a.1).
      status = "skipped";
      error = missingError(u);
    } else if (own.some(([, o]) => o?.status === "planned")) {
      status = "planned";
    } else if (u.hasWork && !did && own.length > 0) {
      status = "already-released";
    }
    // A private package with no artifact at all is versioned only: never "already-released" (issue 9).
    if (u.pkg.private && !u.npm && !u.image && !u.gitTag && !u.release) status = "private";
    // Results travel in the outcomes: the digest an image step saw, the URL of the release.
    // A multi-platform image's digest is its index's, not a platform's.
    const index = own.find(([s]) => s.kind === "image-index")?.[1]?.result?.digest;
    const digest = index ?? own.map(([, o]) => o?.result?.digest).find(Boolean) ?? u.image?.digest ?? null;
    const url = own.map(([, o]) => o?.result?.url).find(Boolean);
    return toResult(u, status, error, digest, url);
  });
}

/** What keeps a package's tag from being made in an `--only` run, and how to get it made. */
function missingError(u: ReleaseUnit): string {
  const stages = [u.missing.some((m) => m.startsWith("npm ")) ? "npm" : "", u.missing.some((m) => m.startsWith("image ")) ? "images" : ""]
    .filter(Boolean)
    .map((s) => `--only ${s}`)
    .join(" ");
  return `no git tag ${u.gitTag?.tag ?? ""}: not in the registry: ${u.missing.join(", ")}; release it first (flotilla publish without --only, or ${stages}), then tag`;
}

function toResult(
  u: ReleaseUnit,
  status: ReleaseStatus,
  error: string | undefined,
  digest: string | null,
  url: string | undefined,
): ReleaseResult {
  return {
    name: u.name,
    version: u.version,
    status,
    npm: u.npm ? { name: u.npm.name, version: u.npm.version, registry: u.npm.registry, distTag: u.npm.distTag } : null,
    image: u.image ? { name: u.image.name, tags: u.image.tags, digest } : null,
    gitTag: u.gitTag?.tag ?? null,
    release: url ? { url } : null,
    ...(error ? { error } : {}),
  };
}
