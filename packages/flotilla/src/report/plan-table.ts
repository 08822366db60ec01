import type { NpmArtifact, Plan, PlannedRelease } from "../plan/release-plan.ts";

export interface RenderOptions {
  /** Terminal width; undefined: no limit (output to a file or a log). */
  width?: number;
  /** List unversioned packages, ignored Dockerfiles and every changesets warning. */
  verbose?: boolean;
}

/** Range-only rows (type "none") listed without --verbose; more are counted instead. */
const RANGE_ROWS_SHOWN = 10;

/** Warnings of changesets shown without --verbose; the rest are counted. */
const WARNINGS_SHOWN = 3;

/**
 * The human form of a plan: one row per release with its artifacts in short form (the version
 * is in its own column, so artifacts do not repeat `name@version`); full detail is in `--json`.
 */
export function renderPlan(plan: Plan, opts: RenderOptions = {}): string {
  const lines: string[] = [];
  const released = plan.releases.filter((r) => r.type !== "none");
  const rangeOnly = plan.releases.length - released.length;
  if (released.length === 0 && rangeOnly === 0) {
    lines.push(
      plan.changesets.length === 0
        ? // `plan` reads no registry: versions already in package.json may still be unreleased.
          "No pending changesets: nothing to version.\nVersions in package.json not yet released are released by `flotilla publish` (`flotilla publish --dry-run` lists them)."
        : 'The pending changesets release no package (all bumps are "none").',
    );
  } else {
    const n = released.length;
    lines.push(
      `${n} release${n === 1 ? "" : "s"}${rangeOnly ? ` (+ ${rangeOnly} range update${rangeOnly === 1 ? "" : "s"} only)` : ""} ` +
        `from ${plan.changesets.length} changeset${plan.changesets.length === 1 ? "" : "s"}` +
        (plan.preMode ? ` (pre mode: ${plan.preMode.tag})` : ""),
      "",
    );
    // Hundreds of private fixtures can be range-only dependents (470 in astro, beside 14
    // releases): past a few, they are counted below the table instead (--verbose lists them).
    const collapsed = !opts.verbose && rangeOnly > RANGE_ROWS_SHOWN;
    const listed = collapsed ? released : plan.releases;
    const rows = listed.map((r) => [
      r.name,
      r.type,
      r.type === "none" ? r.oldVersion : `${r.oldVersion} → ${r.newVersion}`,
      r.reason,
      artifacts(r),
    ]);
    if (rows.length) lines.push(...table(["package", "bump", "version", "reason", "artifacts"], rows, opts.width));
    if (collapsed) {
      lines.push(
        ...(rows.length ? [""] : []),
        `${rangeOnly} range updates only, not listed: dependents whose dependency ranges \`flotilla version\` rewrites, with no release (--verbose lists them).`,
      );
    }
    const images = plan.releases.filter((r) => r.image);
    if (images.length) {
      lines.push("", "Images:");
      for (const r of images) {
        const img = r.image!;
        const why = r.imageReason ? `  (${r.imageReason})` : "";
        lines.push(`  ${img.name}: ${img.tags.join(", ")}${img.moves.length ? ` (moves ${img.moves.join(", ")})` : ""}${why}`);
      }
    }
    if (!plan.owner && images.length) {
      lines.push(
        "",
        "Owner unknown: image names show <owner>. Set `owner` in flotilla.config.json, or GITHUB_REPOSITORY_OWNER (GitHub Actions sets it).",
      );
    }
  }
  const tableEnd = lines.length;
  lines.push(...notes(plan, opts.verbose ?? false));
  // The table is laid out above; the notes below it (and the owner line) are wrapped at spaces.
  const width = opts.width;
  const out = width
    ? [
        ...lines.slice(0, tableEnd).flatMap((l) => (/^(Owner unknown|\d+ range updates only)/.test(l) ? wrapWords(l, width) : [l])),
        ...lines.slice(tableEnd).flatMap((l) => wrapWords(l, width)),
      ]
    : lines;
  return `${out.join("\n")}\n`;
}

/** Wraps a line at spaces to `width`; continuation lines are indented 4 more than the line. */
function wrapWords(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const indent = `${" ".repeat(line.length - line.trimStart().length)}    `;
  const out: string[] = [];
  let cur = "";
  for (const word of line.trimStart().split(" ")) {
    const prefix = out.length ? indent : line.slice(0, line.length - line.trimStart().length);
    if (cur && prefix.length + cur.length + 1 + word.length > width) {
      out.push(prefix + cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  out.push((out.length ? indent : line.slice(0, line.length - line.trimStart().length)) + cur);
  return out;
}

function notes(plan: Plan, verbose: boolean): string[] {
  const out: string[] = [];
  if (plan.unversioned.length) {
    if (verbose) {
      out.push("", `Unversioned, never released (${plan.unversioned.length}):`);
      for (const u of plan.unversioned)
        out.push(
          `  ${u.name} (${u.dir}): ${u.version === null ? '"version" is null' : u.version === undefined ? 'no "version"' : `version ${JSON.stringify(u.version)}`}` +
            (u.rangeUpdate ? "; a dependent: `flotilla version` may rewrite its ranges" : ""),
        );
    } else {
      const n = plan.unversioned.length;
      const k = plan.unversioned.filter((u) => u.rangeUpdate).length;
      out.push(
        "",
        `${n} package${n === 1 ? " has" : "s have"} no version and ${n === 1 ? "is" : "are"} never released` +
          (k ? `; ${k} of them ${k === 1 ? "is a dependent" : "are dependents"} whose ranges \`flotilla version\` may rewrite` : "") +
          " (--verbose lists them).",
      );
    }
  }
  if (verbose && plan.dockerfilesIgnored.length) {
    out.push("", "Dockerfiles not released as images:");
    for (const d of plan.dockerfilesIgnored) out.push(`  ${d.name}: ${d.reason}`);
  }
  if (plan.notes.length) {
    out.push("");
    for (const note of plan.notes) out.push(`warning: ${note}`);
  }
  if (plan.warnings.length) out.push("", ...changesetsWarningLines(plan.warnings, verbose));
  return out;
}

/**
 * changesets' own warnings under one heading with their count (plan, version): the first few,
 * or all when `verbose`, each prefixed so it is clear they come from changesets.
 */
export function changesetsWarningLines(warnings: string[], verbose: boolean, more = "--verbose or --json shows all"): string[] {
  const n = warnings.length;
  const out = [`changesets: ${n} warning${n === 1 ? "" : "s"}`];
  const shown = verbose ? warnings : warnings.slice(0, WARNINGS_SHOWN);
  for (const w of shown) out.push(`  changesets: ${w.replace(/\n/g, " ")}`);
  if (shown.length < n) out.push(`  … ${n - shown.length} more (${more})`);
  return out;
}

function artifacts(r: PlannedRelease): string[] {
  if (r.type === "none") return ["range update only"];
  const parts: string[] = [];
  if (r.npm) parts.push(`npm ${r.npm.distTag} → ${registryShown(r.npm)}`);
  if (r.image) parts.push(`image ${r.image.name}`);
  if (r.gitTag) parts.push("git tag");
  return parts.length ? parts : ["version only"];
}

/** The registry without scheme; only its host when the URL is long (the full URL is in --json). */
function registryShown(npm: NpmArtifact): string {
  const bare = npm.registry.replace(/^https?:\/\//, "");
  return bare.length > 32 ? bare.split("/")[0]! : bare;
}

/**
 * Columns padded to the widest cell; the last column (a list of parts) is wrapped at part
 * boundaries to fit `width`. When the other columns leave too little room for its longest part
 * (long package names on a narrow terminal), the parts go on lines of their own under each row.
 * Cells are ASCII plus "→", "…" and "─", one column each, so string length is the display width
 * (no library needed for that).
 */
function table(header: string[], rows: (string | string[])[][], width?: number): string[] {
  const flat = rows.map((r) => r.map((c) => (Array.isArray(c) ? c.join("; ") : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...flat.map((r) => (r[i] ?? "").length)));
  const lead = widths.slice(0, -1).reduce((a, w) => a + w + 2, 0);
  const longestPart = Math.max(0, ...rows.flatMap((r) => [r.at(-1) ?? []].flat().map((p) => p.length)));
  const stacked = width !== undefined && width - lead < Math.min(longestPart, 40);
  // Even without the last column the padded columns are wider than the terminal (44-character
  // package names beside long prerelease versions, as in workers-sdk): one unpadded line per row.
  if (stacked && lead - 2 > width) return compact(header, rows, width);
  const room = width === undefined ? Number.POSITIVE_INFINITY : stacked ? Math.max(20, width - STACK_INDENT) : width - lead;
  if (stacked) widths.pop();
  else widths[widths.length - 1] = Math.min(widths.at(-1) ?? 0, room);
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const out = [fmt(stacked ? header.slice(0, -1) : header), fmt(widths.map((w) => "─".repeat(w)))];
  for (const row of rows) {
    const cells = row.map((c) => (Array.isArray(c) ? c : [c]));
    const last = wrap(cells.at(-1) ?? [], room);
    const first = cells.slice(0, -1).map((c) => c.join(""));
    if (stacked) {
      out.push(fmt(first));
      for (const l of last) out.push(`${" ".repeat(STACK_INDENT)}${l}`);
    } else {
      out.push(fmt([...first, last[0] ?? ""]));
      for (const more of last.slice(1)) out.push(`${" ".repeat(lead)}${more}`);
    }
  }
  return out;
}

/**
 * The narrowest layout: each row's leading cells on one line separated by two spaces (wrapped at
 * spaces when still too long), its last column's parts on indented lines below; no padding.
 */
function compact(header: string[], rows: (string | string[])[][], width: number): string[] {
  const out = [header.slice(0, -1).join("  "), "─".repeat(Math.min(width, header.slice(0, -1).join("  ").length))];
  const room = Math.max(20, width - STACK_INDENT);
  for (const row of rows) {
    const cells = row.map((c) => (Array.isArray(c) ? c : [c]));
    out.push(
      ...wrapCells(
        cells.slice(0, -1).map((c) => c.join("")),
        width,
      ),
    );
    for (const l of wrap(cells.at(-1) ?? [], room)) out.push(`${" ".repeat(STACK_INDENT)}${l}`);
  }
  return out;
}

/** Cells joined by two spaces; a cell that does not fit on the line starts the next one, indented. */
function wrapCells(cells: string[], width: number): string[] {
  const lines: string[] = [];
  let cur = "";
  for (const cell of cells) {
    if (cur && cur.length + 2 + cell.length > width) {
      lines.push(cur);
      cur = `${" ".repeat(STACK_INDENT)}${cell}`;
    } else cur = cur ? `${cur}  ${cell}` : cell;
  }
  lines.push(cur);
  return lines;
}

/** Indent of the artifact lines under a row when they do not fit beside it. */
const STACK_INDENT = 4;

function wrap(parts: string[], room: number): string[] {
  const lines: string[] = [];
  for (const raw of parts) {
    const part = raw.length > room ? `${raw.slice(0, room - 1)}…` : raw;
    const cur = lines.at(-1);
    if (cur !== undefined && cur.length + 2 + part.length <= room) lines[lines.length - 1] = `${cur}; ${part}`;
    else lines.push(part);
  }
  return lines;
}
