import type { Step, StepOf } from "../plan/publish-plan.ts";

/**
 * What each step kind does, in one line, from its payload alone (pure): the dry run, the logs
 * and the terminal's task list all read these, and the handlers do exactly this.
 */
export const describers: { [K in Step["kind"]]: (p: StepOf<K>["payload"]) => string } = {
  "npm-publish": (p) =>
    `publish ${p.name}@${p.version} to ${p.registry} under dist-tag "${p.tag}"${p.distTag ? `, then set dist-tag "${p.distTag}" → ${p.version}` : ""}${p.scripts?.length ? `; runs its scripts ${p.scripts.join(", ")}` : ""}`,
  "npm-dist-tag": (p) => `point dist-tag "${p.distTag}" of ${p.name} at ${p.version}${p.remove ? ` and remove "${p.remove}"` : ""}`,
  "image-build-push": (p) =>
    `build ${p.image}:${p.versionTag} from ${p.context}/${p.dockerfile}${p.platform ? ` (${p.platform})` : ""} and push it unless the tag exists`,
  "image-index": (p) =>
    `push the image index ${p.image}:${p.versionTag} over ${p.platforms.map((x) => `${x.platform} (${x.tag})`).join(", ")} unless the tag exists`,
  "image-promote": (p) =>
    `point ${p.tags.map((t) => `${p.image}:${t}`).join(", ")} at ${p.versionTag}${p.moves.length ? ` (moves ${p.moves.join(", ")})` : ""}`,
  "git-tag": (p) =>
    `${p.create ? `create git tag ${p.tag} at ${p.commit.slice(0, 7)}` : `git tag ${p.tag} (left local by an earlier run)`}${p.push ? `${p.create ? " and push it" : ": push it"} to origin` : ""}`,
  "github-release": (p) =>
    p.combined
      ? `create one GitHub release for ${p.combined.map((c) => c.tag).join(", ")} (target ${p.commit.slice(0, 7)})${p.latest ? " (Latest)" : ""}`
      : `create GitHub release ${p.tag} (target ${p.commit.slice(0, 7)})${p.prerelease ? " (prerelease)" : ""}${p.latest ? " (Latest)" : ""}`,
};

export function describeStep(step: Step): string {
  return (describers[step.kind] as (p: Step["payload"]) => string)(step.payload);
}
