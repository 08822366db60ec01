/**
 * The changelog generator apply-release-plan is given while `flotilla version` runs: it forwards
 * to the generator flotilla loaded and watches (changelog-generator.ts). apply-release-plan takes
 * a generator only as a module path, so the loaded functions reach this module through a
 * process-wide slot rather than a parameter.
 */
type Line = (...args: unknown[]) => Promise<string>;
export const GENERATOR_SLOT = Symbol.for("flotilla.changelog-generator");

function current(): { getReleaseLine: Line; getDependencyReleaseLine: Line } {
  const g = (globalThis as Record<symbol, unknown>)[GENERATOR_SLOT] as { getReleaseLine: Line; getDependencyReleaseLine: Line } | undefined;
  if (!g) throw new Error("flotilla: no changelog generator loaded");
  return g;
}

export const getReleaseLine: Line = (...args) => current().getReleaseLine(...args);
export const getDependencyReleaseLine: Line = (...args) => current().getDependencyReleaseLine(...args);
