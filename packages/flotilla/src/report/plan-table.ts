import type { Plan, PlannedRelease } from "../plan/release-plan.ts";

/** The human form of a plan: one row per release, then its artifacts. */
export function renderPlan(plan: Plan): string {
  if (plan.releases.length === 0) {
    return plan.changesets.length === 0
      ? "No pending changesets: nothing to version.\n"
      : 'The pending changesets release no package (all bumps are "none").\n';
  }
  const lines: string[] = [];
  const n = plan.releases.length;
  lines.push(
    `${n} release${n === 1 ? "" : "s"} from ${plan.changesets.length} changeset${plan.changesets.length === 1 ? "" : "s"}` +
      (plan.preMode ? ` (pre mode: ${plan.preMode.tag})` : ""),
    "",
  );
  const rows = plan.releases.map((r) => [r.name, r.type, `${r.oldVersion} → ${r.newVersion}`, r.reason, artifacts(r)]);
  lines.push(...table(["package", "bump", "version", "reason", "artifacts"], rows));
  const images = plan.releases.filter((r) => r.image);
  if (images.length) {
    lines.push("", "Images:");
    for (const r of images) {
      const img = r.image!;
      lines.push(`  ${img.name}: ${img.tags.join(", ")}${img.moves.length ? ` (moves ${img.moves.join(", ")})` : ""}`);
    }
  }
  if (!plan.owner && images.length) {
    lines.push("", "Owner unknown: set `owner` in flotilla.config.json or GITHUB_REPOSITORY_OWNER to name images.");
  }
  return `${lines.join("\n")}\n`;
}

function artifacts(r: PlannedRelease): string {
  const parts: string[] = [];
  if (r.npm) parts.push(`npm ${r.npm.name}@${r.npm.version} (${r.npm.distTag})`);
  if (r.image) parts.push(`image ${r.image.name}:${r.image.tags[0] ?? r.newVersion}`);
  if (r.gitTag) parts.push(`tag ${r.gitTag}`);
  return parts.length ? parts.join("; ") : "version only";
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [fmt(header), fmt(widths.map((w) => "─".repeat(w))), ...rows.map(fmt)];
}
