import type { ReleaseResult } from "./result.ts";

/**
 * GitHub Actions outputs (SPEC §7), through @actions/core's writers of the documented file
 * formats: `published`, `publishedPackages` (changesets/action's shape) and `images` to
 * GITHUB_OUTPUT; a markdown table to GITHUB_STEP_SUMMARY. Nothing happens when unset (without
 * GITHUB_OUTPUT, core.setOutput would print a workflow command to stdout instead).
 */
export async function writeGithubOutputs(results: ReleaseResult[], env: Record<string, string | undefined>): Promise<void> {
  if (!env.GITHUB_OUTPUT && !env.GITHUB_STEP_SUMMARY) return;
  const core = await import("@actions/core");
  const published = results.filter((r) => r.status === "published");
  if (env.GITHUB_OUTPUT) {
    core.setOutput("published", published.length > 0 ? "true" : "false");
    core.setOutput("publishedPackages", JSON.stringify(published.map((r) => ({ name: r.name, version: r.version }))));
    core.setOutput("images", JSON.stringify(published.filter((r) => r.image).map((r) => r.image)));
  }
  if (env.GITHUB_STEP_SUMMARY) {
    const rows = results.filter((r) => r.status !== "already-released" && r.status !== "private");
    core.summary.addHeading("flotilla release", 2);
    if (rows.length === 0) core.summary.addRaw("Nothing to release: every version is already released.", true);
    else {
      core.summary.addTable([
        [
          { data: "Package", header: true },
          { data: "Version", header: true },
          { data: "Status", header: true },
          { data: "npm", header: true },
          { data: "Image", header: true },
          { data: "Git tag", header: true },
        ],
        ...rows.map((r) => [
          r.name,
          r.version,
          r.status + (r.error ? ` — ${r.error}` : ""),
          r.npm ? `${r.npm.name}@${r.npm.version} (${r.npm.distTag})` : "",
          r.image ? `${r.image.name}:${r.image.tags.join(", ")}` : "",
          r.gitTag ?? "",
        ]),
      ]);
    }
    await core.summary.write();
  }
}
