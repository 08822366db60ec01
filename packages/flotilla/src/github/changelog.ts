/**
 * The section of a CHANGELOG.md (changesets' format: `## <version>` headings) for one version,
 * without its heading; empty when the version has no section.
 */
export function changelogSection(changelog: string, version: string): string {
  const lines = changelog.split(/\r?\n/);
  const start = lines.findIndex((l) => /^##\s+/.test(l) && l.replace(/^##\s+/, "").trim() === version);
  if (start < 0) return "";
  let end = lines.findIndex((l, i) => i > start && /^##\s+/.test(l));
  if (end < 0) end = lines.length;
  return lines
    .slice(start + 1, end)
    .join("\n")
    .trim();
}

/** The marker a combined release carries, listing every package tag it covers. */
export function coveredTagsMarker(tags: string[]): string {
  return `<!-- flotilla:covers ${tags.join(" ")} -->`;
}

/** Tags a release covers: its own, plus those in a combined release's marker. */
export function coveredTags(tag: string, body: string): string[] {
  const m = /<!-- flotilla:covers ([^>]*?) -->/.exec(body);
  return [tag, ...(m ? m[1]!.split(/\s+/).filter(Boolean) : [])];
}
