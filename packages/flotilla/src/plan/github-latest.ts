import semver from "semver";

/**
 * Which new release becomes the repository's "Latest" on GitHub (SPEC §5.8): only a stable
 * version that is the newest of its package (a backport below an existing tag never is), and
 * only one per run — GitHub has a single Latest, and every newly created release would
 * otherwise take it in turn. Among candidates the first by package name wins, deterministically.
 */
export function pickLatest(
  releases: { tag: string; name: string; version: string }[],
  existingTags: readonly string[],
): string | undefined {
  const candidates = releases.filter((r) => {
    if (semver.prerelease(r.version)) return false;
    const prefix = `${r.name}@`;
    return existingTags
      .filter((t) => t.startsWith(prefix))
      .every((t) => {
        const v = semver.valid(t.slice(prefix.length));
        return !v || semver.prerelease(v) || semver.gte(r.version, v);
      });
  });
  return candidates.sort((a, b) => a.name.localeCompare(b.name))[0]?.tag;
}
