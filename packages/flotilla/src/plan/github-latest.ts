import semver from "semver";

type Rel = { tag: string; name: string; version: string };

/**
 * Which package's release takes GitHub's "Latest" (SPEC §5a.3), from the versions released at
 * the commit — never from what a run still has to do, so every rerun decides the same:
 * config `github.latest` (a package name, or false for none); else the package whose unscoped
 * name equals the repository's name; else the root package.json's name when it is a workspace
 * package; else the first by name.
 */
export function latestPackage(
  atCommit: readonly Rel[],
  opts: { choice: string | false | undefined; repoName: string | undefined; rootName: string | undefined },
): string | undefined {
  if (opts.choice === false) return undefined;
  if (opts.choice !== undefined) return opts.choice;
  const names = [...new Set(atCommit.map((r) => r.name))].sort();
  const unscoped = (n: string) => n.replace(/^@[^/]+\//, "");
  return (
    names.find((n) => opts.repoName !== undefined && unscoped(n).toLowerCase() === opts.repoName.toLowerCase()) ??
    names.find((n) => n === opts.rootName) ??
    names[0]
  );
}

/**
 * The release among `releases` that may be "Latest": a stable version that is the newest of
 * its package (a backport below an existing tag never is). Ties by package name, first wins.
 */
export function pickLatest(releases: readonly Rel[], existingTags: readonly string[]): string | undefined {
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
  return [...candidates].sort((a, b) => a.name.localeCompare(b.name))[0]?.tag;
}
