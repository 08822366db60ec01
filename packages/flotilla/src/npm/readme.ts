import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as tar from "tar";

const NO_README = "ERROR: No README data found!";

/** Names npm may take a README from (its glob is `{README,README.*}`, case-insensitive). */
const README_ENTRY = /^package\/readme(\.[^/]*)?$/i;

/**
 * The README text a publish sends in the version manifest (`readme`), read from the packed
 * tarball, as `npm publish` reads it: npm's own @npmcli/package-json `readme` step picks the
 * file (README.md before README, any case, `.markdown` too). Only the candidate files and
 * package.json are extracted, into a throwaway folder, since the library reads from disk.
 * Undefined when the package has none (npm would send a placeholder text; pnpm sends nothing).
 * `paths`, the tarball's entries when already listed, spares the extraction when none is a README.
 */
export async function readmeOf(tarball: string, paths?: readonly string[]): Promise<string | undefined> {
  // The tarball's entries already listed (readPacked): no candidate, nothing to extract.
  if (paths && !paths.some((p) => README_ENTRY.test(p))) return undefined;
  const tmp = await mkdtemp(path.join(os.tmpdir(), "flotilla-readme-"));
  try {
    let candidates = 0;
    await tar.x({
      file: tarball,
      cwd: tmp,
      filter: (p, entry) => {
        const keep = (p === "package/package.json" || README_ENTRY.test(p)) && (entry as { type?: string }).type === "File";
        if (keep && p !== "package/package.json") candidates++;
        return keep;
      },
    });
    if (candidates === 0) return undefined;
    const { default: PackageJson } = await import("@npmcli/package-json");
    const { content } = await PackageJson.normalize(path.join(tmp, "package"), { steps: ["readme"] });
    return content.readme && content.readme !== NO_README ? content.readme : undefined;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
