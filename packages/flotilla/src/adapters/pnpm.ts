import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import pLimit from "p-limit";
import * as tar from "tar";
import { runBeforePack } from "../npm/lifecycle.ts";
import { BEFORE_PACK, PACK, type Scripts } from "../npm/scripts.ts";
import { PNPM_ENV, tools } from "./tools.ts";

export interface PackedPackage {
  name: string;
  version: string;
  tarball: string;
}

/**
 * Packs packages with pnpm, in one process for all of them: pnpm rewrites `workspace:` ranges
 * to real ones and runs the pack lifecycle scripts. Tarballs go to `dest` (outside the repo).
 */
export async function packWithPnpm(
  rootDir: string,
  names: string[],
  dest: string,
  cancelSignal?: AbortSignal,
): Promise<Map<string, PackedPackage>> {
  const [cmd, args] = tools.pnpmPack(names, dest);
  const r = await execa(cmd, args, { cwd: rootDir, reject: false, env: PNPM_ENV, ...(cancelSignal ? { cancelSignal } : {}) });
  const text = r.stdout.trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(Math.max(0, Math.min(...["[", "{"].map((c) => text.indexOf(c)).filter((i) => i >= 0)))));
  } catch {
    throw new Error(`pnpm pack failed (exit ${r.exitCode}): ${(r.stderr || text).slice(0, 2000)}`);
  }
  const err = (parsed as { error?: { message?: string } }).error;
  if (r.exitCode !== 0 || err) throw new Error(`pnpm pack failed: ${err?.message ?? r.stderr.slice(0, 2000)}`);
  const list = (Array.isArray(parsed) ? parsed : [parsed]) as { name: string; version: string; filename: string }[];
  return new Map(list.map((p) => [p.name, { name: p.name, version: p.version, tarball: p.filename }]));
}

/**
 * Runs each package's `prepublishOnly` and `prepublish` scripts first (as `pnpm publish` does
 * before it packs; a package whose script fails is not packed and carries the error), then packs
 * everything in one pnpm process; when that fails (one package's prepack script, say), packs each
 * package on its own so the failure stays with the package that caused it.
 */
export async function packEach(rootDir: string, names: string[], dest: string): Promise<Map<string, PackedPackage | Error>> {
  const out = new Map<string, PackedPackage | Error>(await runBeforePack(rootDir, names));
  const ready = names.filter((n) => !out.has(n));
  if (ready.length === 0) return out;
  try {
    for (const [n, p] of await packWithPnpm(rootDir, ready, dest)) out.set(n, p);
    return out;
  } catch {
    const limit = pLimit(4);
    await Promise.all(
      ready.map((n) =>
        limit(async () => {
          try {
            const one = await packWithPnpm(rootDir, [n], dest);
            out.set(n, one.get(n) ?? new Error("pnpm pack produced no tarball"));
          } catch (err) {
            out.set(n, err as Error);
          }
        }),
      ),
    );
    return out;
  }
}

/**
 * Packing ahead (issue 12): when nothing of the run writes to the work tree before the pack —
 * the build already ran (`--skip-build`), the tree is not declared changing (`--allow-dirty`),
 * and no package that may be published has a script pnpm runs around a pack (`prepublishOnly`,
 * `prepublish`, `prepack`, `prepare`, `postpack`) — the tarballs of every public package are
 * made once the release lock is held, while the registries are read, instead of after the plan:
 * ~0.3 s of a first publish of 200 packages and ~0.9 s at 1,000, when the registry would
 * otherwise wait. The plan then takes the tarballs of the packages it publishes: the bytes a
 * pack after the plan makes from the same files (a test compares them). When the pack failed or
 * missed one, the run packs as before and says why. Unused tarballs are deleted with the
 * folder; a pack still running then is stopped.
 */
export class PackAhead {
  private readonly abort = new AbortController();
  private readonly result: Promise<Map<string, PackedPackage> | undefined>;
  private disposed = false;
  /** Why the pack made nothing, when it failed (said when the run packs again). */
  failure: string | undefined;

  private readonly dir: string;

  private constructor(rootDir: string, names: string[], dir: string) {
    this.dir = dir;
    this.result = packWithPnpm(rootDir, names, dir, this.abort.signal).catch((err: Error) => {
      this.failure = err.message.split("\n")[0];
      return undefined;
    });
  }

  /** Starts packing `names` into a fresh folder, or undefined when a pack script could run. */
  static start(rootDir: string, packages: readonly { name: string; manifest: Record<string, unknown> }[]): PackAhead | undefined {
    if (packages.length === 0) return undefined;
    const scripted = (p: { manifest: Record<string, unknown> }) =>
      [...BEFORE_PACK, ...PACK].some((s) => typeof (p.manifest.scripts as Scripts)?.[s] === "string");
    if (packages.some(scripted)) return undefined;
    return new PackAhead(
      rootDir,
      packages.map((p) => p.name),
      mkdtempSync(path.join(os.tmpdir(), "flotilla-pack-")),
    );
  }

  /** The tarballs of `names` when this pack made every one of them; else undefined. */
  async take(names: readonly string[]): Promise<Map<string, PackedPackage> | undefined> {
    const all = await this.result;
    if (this.disposed || !all || !names.every((n) => all.has(n))) return undefined;
    return new Map(names.map((n) => [n, all.get(n)!]));
  }

  /** Stops a pack still running and deletes the tarballs. Never throws (the lock's release follows it). */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.abort.abort();
    await this.result;
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** The packed `package/package.json` (what the registry will serve) and the tarball bytes. */
export async function readPacked(
  tarball: string,
): Promise<{ manifest: Record<string, unknown> & { name: string; version: string }; data: Buffer; paths: string[] }> {
  const data = await readFile(tarball);
  let json = "";
  const paths: string[] = [];
  // Parsed from the bytes already read (one read of the file), listing every entry on the way:
  // the publish then knows whether there is a README to read without opening the tarball again.
  await new Promise<void>((resolve, reject) => {
    const parser = new tar.Parser({
      filter: (p) => {
        paths.push(p);
        return p === "package/package.json";
      },
      onReadEntry: (entry) => {
        entry.on("data", (c: Buffer) => {
          json += c.toString("utf8");
        });
      },
    });
    parser.on("end", () => resolve());
    parser.on("error", reject);
    parser.end(data);
  });
  if (!json) throw new Error(`${tarball} holds no package/package.json`);
  return { manifest: JSON.parse(json), data, paths };
}
