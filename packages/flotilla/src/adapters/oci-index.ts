import type { OciRegistry } from "./oci-registry.ts";

/**
 * Multi-platform images (SPEC §11): an OCI image index over per-platform manifests already in
 * the repository (each platform built and pushed on its own, possibly by another runner). The
 * document is small and fixed by the OCI image spec; written here rather than pulling in a
 * client library (there is no well-kept Node one; see oci-registry.ts).
 */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** `linux/arm64/v8` → { os, architecture, variant }; null when it is not os/arch[/variant]. */
export function parsePlatform(p: string): Platform | null {
  const m = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/.exec(p);
  if (!m) return null;
  return { os: m[1]!, architecture: m[2]!, ...(m[3] ? { variant: m[3] } : {}) };
}

/** The index document (bytes: its digest is what the tag will name). Entries in the given order. */
export function imageIndex(manifests: { mediaType: string; digest: string; size: number; platform: Platform }[]): Buffer {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform })),
  };
  return Buffer.from(JSON.stringify(doc));
}

/**
 * Assembles and pushes the index of `repo:tag` over the per-platform manifests `digests`
 * (platform → digest, each already in the repository). Returns the index digest.
 */
export async function pushImageIndex(
  registry: OciRegistry,
  repo: string,
  tag: string,
  digests: ReadonlyMap<string, string>,
): Promise<string> {
  const manifests = await Promise.all(
    [...digests].map(async ([platform, digest]) => {
      const parsed = parsePlatform(platform);
      if (!parsed) throw new Error(`${repo}: "${platform}" is not a platform (os/arch[/variant])`);
      const d = await registry.descriptor(repo, digest);
      if (!d) throw new Error(`${registry.host}/${repo}: the ${platform} manifest ${digest} is not in the repository`);
      if (/index|list/.test(d.mediaType)) throw new Error(`${registry.host}/${repo}@${digest} (${platform}) is an index, not an image`);
      return { ...d, platform: parsed };
    }),
  );
  return registry.putManifest(repo, tag, OCI_INDEX, imageIndex(manifests));
}
