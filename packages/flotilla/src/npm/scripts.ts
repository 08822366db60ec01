/**
 * The scripts `pnpm publish` (pnpm 12) runs, in its order: `prepublishOnly`, `prepublish`, then
 * the pack scripts (`prepack`, `prepare`, `postpack`, which `pnpm pack` runs itself), the PUT,
 * then `publish`, `postpublish`. Pure (the planner lists them for the dry run); running them is
 * lifecycle.ts's.
 */
export const BEFORE_PACK = ["prepublishOnly", "prepublish"] as const;
export const PACK = ["prepack", "prepare", "postpack"] as const;
export const AFTER_PUBLISH = ["publish", "postpublish"] as const;

export type Scripts = Record<string, unknown> | undefined;

/** The scripts of a package.json's `scripts` that a publish of it runs, in the order they run. */
export function publishScripts(scripts: Scripts): string[] {
  return [...BEFORE_PACK, ...PACK, ...AFTER_PUBLISH].filter((n) => typeof scripts?.[n] === "string");
}
