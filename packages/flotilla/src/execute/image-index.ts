import { pushImageIndex } from "../adapters/oci-index.ts";
import { type OciRegistry, splitImageName } from "../adapters/oci-registry.ts";
import type { ImageIndexPayload } from "../plan/publish-plan.ts";
import type { StepOutcome } from "./runner.ts";

/**
 * The `image-index` step (SPEC §11): the version tag becomes an OCI image index over each
 * platform's image, read from the platforms' tags (pushed by this run, a matrix job or an
 * earlier run: the registry is the journal). A version tag is never rewritten (SPEC §5a.4).
 */
export async function runImageIndex(reg: OciRegistry, p: ImageIndexPayload): Promise<Omit<StepOutcome, "durationMs">> {
  const { repo } = splitImageName(p.image);
  const existing = await reg.digest(repo, p.versionTag);
  if (existing)
    return { status: "noop", detail: `${p.image}:${p.versionTag} already exists (${existing.slice(0, 19)})`, result: { digest: existing } };
  const digests = new Map<string, string>();
  for (const { platform, tag } of p.platforms) {
    const d = await reg.digest(repo, tag);
    if (!d)
      return { status: "failed", error: `${p.image}:${tag} (the ${platform} image) is not in the registry: its build did not go through` };
    digests.set(platform, d);
  }
  const digest = await pushImageIndex(reg, repo, p.versionTag, digests);
  return {
    status: "done",
    detail: `pushed the image index ${p.image}:${p.versionTag} over ${p.platforms.map((x) => x.platform).join(", ")} (${digest.slice(0, 19)})`,
    result: { digest },
  };
}
