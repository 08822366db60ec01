import { readFile } from "node:fs/promises";
import { execa } from "execa";
import pLimit from "p-limit";
import * as tar from "tar";
import { runBeforePack } from "../npm/lifecycle.ts";
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
export async function packWithPnpm(rootDir: string, names: string[], dest: string): Promise<Map<string, PackedPackage>> {
  const [cmd, args] = tools.pnpmPack(names, dest);
  const r = await execa(cmd, args, { cwd: rootDir, reject: false, env: PNPM_ENV });
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
