import semver from "semver";
import type { ImageTagKind } from "../config/schema.ts";
import { prereleaseChannel } from "./dist-tag.ts";

export interface ImageTagPlan {
  /** Tags this release gives the image, the version tag first. */
  tags: string[];
  /** Floating tags (everything but the version tag): moved last (SPEC §5.9). */
  floating: string[];
  /** Floating tags that already exist in the repository and will be moved to this version. */
  moves: string[];
}

/**
 * Image tags for a version (SPEC §6), given the tags already in the image repository.
 *
 * - always the version (build metadata `+x` becomes `-x`: `+` is not allowed in OCI tags);
 * - stable: `MAJOR.MINOR` if it is the highest stable of that minor line, `MAJOR` if the highest
 *   of that major line, `latest` if the highest stable overall. So 1.2.9 after 2.0.0 moves `1.2`
 *   and `1`, never `latest`;
 * - 0.x: no `MAJOR` tag (`0` would span breaking minors; docker/metadata-action users opt out of
 *   `{{major}}` for 0.x for the same reason), `0.MINOR` as usual;
 * - prerelease: only the version, plus its channel tag if it is the highest of that channel;
 * - `sha-<7 hex>` when the `sha` kind is enabled and a commit is given.
 */
export function imageTagsFor(
  version: string,
  existing: readonly string[],
  opts: { kinds: readonly ImageTagKind[]; sha?: string },
): ImageTagPlan {
  const kinds = new Set(opts.kinds);
  const versionTag = toImageTag(version);
  const tags: string[] = [];
  if (kinds.has("version")) tags.push(versionTag);
  const known = existing.map((t) => semver.valid(t.replace(/^v/, ""))).filter((v): v is string => v !== null);
  const major = semver.major(version);
  const minor = semver.minor(version);
  const channel = prereleaseChannel(version);
  if (!channel) {
    const stable = known.filter((v) => semver.prerelease(v) === null);
    const highestOf = (pool: string[]) => pool.every((v) => semver.gte(version, v));
    if (kinds.has("minor") && highestOf(stable.filter((v) => semver.major(v) === major && semver.minor(v) === minor))) {
      tags.push(`${major}.${minor}`);
    }
    if (kinds.has("major") && major > 0 && highestOf(stable.filter((v) => semver.major(v) === major))) {
      tags.push(`${major}`);
    }
    if (kinds.has("latest") && highestOf(stable)) tags.push("latest");
  } else if (kinds.has("channel")) {
    const sameChannel = known.filter((v) => prereleaseChannel(v) === channel);
    if (sameChannel.every((v) => semver.gte(version, v))) tags.push(channel);
  }
  if (kinds.has("sha") && opts.sha) tags.push(`sha-${opts.sha.slice(0, 7)}`);
  const floating = tags.filter((t) => t !== versionTag);
  const have = new Set(existing);
  return { tags, floating, moves: floating.filter((t) => have.has(t)) };
}

/** A semver version as an OCI tag: `+` (build metadata) is not a legal tag character. */
export function toImageTag(version: string): string {
  return version.replace(/\+/g, "-");
}
