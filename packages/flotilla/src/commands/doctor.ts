import { dockerClient } from "../adapters/docker.ts";
import { type CommonOptions, discover, type ReleaseContext, registryFor } from "../context.ts";
import { preflightChecks } from "../preflight.ts";

export interface DoctorLine {
  name: string;
  ok: boolean;
  /** The check did not run: what it needs is missing (another line says so). */
  skipped?: string;
  details: string[];
}

/**
 * `flotilla doctor`: every preflight check, printed as it runs, each failure with its fix.
 * No side effects. Exit 0 when all pass, 2 otherwise.
 */
export async function doctorCommand(opts: CommonOptions & { print: (line: DoctorLine) => void }): Promise<DoctorLine[]> {
  const ctx = await discover(opts);
  const lines: DoctorLine[] = [];
  const emit = (l: DoctorLine) => {
    lines.push(l);
    opts.print(l);
  };
  emit({ name: "config", ok: true, details: [ctx.config.file ? `read ${ctx.config.file}` : "no flotilla.config.json: defaults"] });
  emit({
    name: "workspace",
    ok: true,
    details: [
      `${ctx.rootDir}: ${ctx.workspace.packages.length} packages (${ctx.workspace.packages.filter((p) => !p.private).length} npm, ${ctx.imageNames.size} images)`,
    ],
  });
  emit({
    name: "owner",
    ok: ctx.owner !== undefined,
    details: [ctx.owner ? `owner: ${ctx.owner}` : 'unknown — fix: set "owner" in flotilla.config.json or GITHUB_REPOSITORY_OWNER'],
  });
  const packages = ctx.workspace.packages.filter((p) => !ctx.only || ctx.only.has(p.name));
  for (const check of preflightChecks({ ...ctx, packages, allowDirty: false, docker: () => dockerClient(ctx.env) })) {
    const r = await check.run();
    emit({
      name: r.name,
      ok: r.ok,
      ...(r.skipped ? { skipped: r.skipped } : {}),
      details: [
        ...r.problems.map((p) => `${p.file ? `${p.file}: ` : ""}${p.message}${p.hint ? ` — fix: ${p.hint}` : ""}`),
        ...r.warnings.map((w) => `warning: ${w}`),
      ],
    });
  }
  if (ctx.config.npm.promote === "last")
    emit(
      await distTagMoveCheck(
        ctx,
        packages.filter((p) => !p.private).map((p) => p.name),
      ),
    );
  return lines;
}

/**
 * `npm.promote: "last"` relies on moving dist-tags, which GitHub Packages does not document
 * (SPEC §5.9). This points `latest` of an already-published package at the version it already
 * has: a real dist-tag write that changes nothing.
 */
async function distTagMoveCheck(ctx: ReleaseContext, names: string[]): Promise<DoctorLine> {
  const name = "registry moves dist-tags (npm.promote: last)";
  const details: string[] = [];
  let ok = true;
  for (const [url, reg] of ctx.registries) {
    const mine = names.filter((n) => registryFor(ctx, n) === reg);
    if (mine.length === 0) continue;
    const r = await reg.canMoveDistTags(mine);
    if (r.result === "no") ok = false;
    details.push(
      `${url}: ${r.detail}${r.result === "no" ? ' — fix: set "npm": {"promote": "direct"} (publish falls back to it by itself)' : ""}`,
    );
  }
  return { name, ok, details };
}
