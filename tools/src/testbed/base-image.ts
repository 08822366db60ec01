import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import tar from "tar-fs";

export const BASE_IMAGE = "node:24-slim";
const LABEL = "dev.flotilla.testbed.node";

/**
 * Builds the offline `node:24-slim` base image (no Docker Hub here, SPEC §10): the Node 24 binary
 * this process runs on, the shared libraries `ldd` lists for it, and a static busybox for
 * `/bin/sh` and `/usr/bin/env`. Skipped when an image built from the same Node already exists.
 */
export async function ensureBaseImage(docker: Docker, workDir: string): Promise<string> {
  const nodeVersion = process.version;
  const existing = await docker
    .getImage(BASE_IMAGE)
    .inspect()
    .catch(() => undefined);
  if (existing?.Config?.Labels?.[LABEL] === nodeVersion) return BASE_IMAGE;
  if (!process.versions.node.startsWith("24.")) throw new Error(`the base image needs Node 24; this process runs ${nodeVersion}`);

  const ctx = path.join(workDir, "base-image");
  rmSync(ctx, { recursive: true, force: true });
  const root = path.join(ctx, "rootfs");
  for (const d of ["usr/local/bin", "bin", "usr/bin", "tmp", "app", "etc"]) mkdirSync(path.join(root, d), { recursive: true });
  chmodSync(path.join(root, "tmp"), 0o1777);
  copyFileSync(process.execPath, path.join(root, "usr/local/bin/node"));
  chmodSync(path.join(root, "usr/local/bin/node"), 0o755);
  // Every library ldd lists, at the exact path the loader looks for (symlinks resolved: cp -L).
  const ldd = execFileSync("ldd", [process.execPath], { encoding: "utf8" });
  for (const m of ldd.matchAll(/(\/\S+)\s+\(0x/g)) {
    const lib = m[1]!;
    mkdirSync(path.join(root, path.dirname(lib)), { recursive: true });
    copyFileSync(lib, path.join(root, lib));
  }
  copyFileSync("/bin/busybox", path.join(root, "bin/busybox"));
  chmodSync(path.join(root, "bin/busybox"), 0o755);
  const applets = execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
  for (const a of applets) if (a !== "busybox") symlinkSync("busybox", path.join(root, "bin", a));
  symlinkSync("/bin/busybox", path.join(root, "usr/bin/env"));
  writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n");
  writeFileSync(path.join(root, "etc/group"), "root:x:0:\nnode:x:1000:\n");
  writeFileSync(
    path.join(ctx, "Dockerfile"),
    ["FROM scratch", "COPY rootfs/ /", "ENV PATH=/usr/local/bin:/usr/bin:/bin", 'CMD ["node"]', ""].join("\n"),
  );
  const stream = await docker.buildImage(tar.pack(ctx), { t: BASE_IMAGE, labels: { [LABEL]: nodeVersion } });
  const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => (err ? reject(err) : resolve(out))),
  );
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(`building ${BASE_IMAGE} failed: ${failed.error}`);
  rmSync(ctx, { recursive: true, force: true });
  return BASE_IMAGE;
}
