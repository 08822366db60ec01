/**
 * OCI labels of a release image (SPEC §5.6). `source` is the repository URL: ghcr.io links the
 * package to the repository through it. GitHub shows at most 512 characters of description.
 */
export function ociLabels(input: {
  name: string;
  version: string;
  source: string;
  revision: string;
  created: Date;
  description?: string;
  license?: string;
}): Record<string, string> {
  return {
    "org.opencontainers.image.source": input.source,
    "org.opencontainers.image.version": input.version,
    "org.opencontainers.image.revision": input.revision,
    "org.opencontainers.image.created": input.created.toISOString(),
    "org.opencontainers.image.title": input.name,
    ...(input.description ? { "org.opencontainers.image.description": input.description.slice(0, 512) } : {}),
    ...(input.license ? { "org.opencontainers.image.licenses": input.license.slice(0, 256) } : {}),
  };
}
