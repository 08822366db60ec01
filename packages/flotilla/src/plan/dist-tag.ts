import semver from "semver";

/**
 * npm dist-tag for a version (SPEC §6), given the registry's current `latest` (undefined when
 * never published or unknown):
 * - prerelease → its first prerelease identifier (`beta`, `rc`; `next` when numeric);
 * - stable above (or equal to) the current `latest`, or no `latest` → `latest`;
 * - stable below it (a maintenance line) → `latest-<major>`, so `latest` never moves back.
 */
export function distTagFor(version: string, currentLatest: string | undefined): string {
  const channel = prereleaseChannel(version);
  if (channel) return channel;
  if (currentLatest && semver.valid(currentLatest) && semver.lt(version, currentLatest)) {
    return `latest-${semver.major(version)}`;
  }
  return "latest";
}

/** First prerelease identifier of a version (`1.0.0-beta.2` → `beta`; numeric → `next`), else undefined. */
export function prereleaseChannel(version: string): string | undefined {
  const pre = semver.prerelease(version);
  if (!pre || pre.length === 0) return undefined;
  const first = pre[0];
  return typeof first === "string" && !/^\d+$/.test(first) ? first : "next";
}
