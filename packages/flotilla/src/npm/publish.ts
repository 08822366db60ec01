import { readPacked } from "../adapters/pnpm.ts";
import { type ReleaseContext, registryFor } from "../context.ts";
import { type Access, changesetsAccess, resolveAccess } from "./access.ts";
import { AFTER_PUBLISH, runScripts, type Scripts } from "./lifecycle.ts";
import { wantsProvenance } from "./provenance.ts";
import { readmeOf } from "./readme.ts";

/** What the publish step knows of one package version (the plan's npm-publish payload). */
export interface PublishTarget {
  name: string;
  version: string;
  /** Package folder (absolute): where `publish`/`postpublish` run. */
  dir: string;
  /** Dist-tag the version is published under. */
  tag: string;
  /** flotilla's `npm.access` (the last fallback, see resolveAccess). */
  access: Access | null;
}

/**
 * Publishes a packed tarball as `pnpm publish` would have: the manifest sent is the packed
 * package.json plus the README (npm's reading of it), `access` by changesets' precedence,
 * provenance where `publishConfig.provenance` asks for it (preflight has refused the places
 * where it cannot be made), and after a successful PUT the package's `publish` and
 * `postpublish` scripts. A version already on the registry is `exists`, and its scripts do not
 * run again. A failing script after the PUT fails the step; the version stays published.
 */
export async function publishTarball(ctx: ReleaseContext, target: PublishTarget, tarball: string): Promise<"published" | "exists"> {
  const { manifest, data, paths } = await readPacked(tarball);
  const readme = await readmeOf(tarball, paths);
  const access = resolveAccess({
    name: manifest.name,
    publishConfig: manifest.publishConfig,
    changesets: await changesetsAccess(ctx.rootDir),
    config: target.access,
  });
  const sent = readme === undefined || manifest.readme !== undefined ? manifest : { ...manifest, readme };
  const r = await registryFor(ctx, target.name).publish(sent, data, {
    tag: target.tag,
    ...(access ? { access } : {}),
    ...(wantsProvenance(manifest) ? { provenance: true } : {}),
  });
  if (r === "published") {
    const scripts = ctx.workspace.byName.get(target.name)?.manifest.scripts as Scripts;
    try {
      await runScripts(target.dir, scripts, AFTER_PUBLISH);
    } catch (err) {
      throw new Error(`${target.name}@${target.version} is published, but ${(err as Error).message}`);
    }
  }
  return r;
}
