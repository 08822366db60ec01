/**
 * The bundle loads sigstore only when provenance needs it (scripts/bundle.ts, LAZY_REQUIRES):
 * libnpmpublish's `require("sigstore")` became a getter. This checks that the getter still hands
 * libnpmpublish a working sigstore: a publish with a provenance file reaches sigstore's own
 * verification. No test signs for real (that needs a CI provider's OIDC token), so this is the
 * one run of that code in the shipped bundle. Offline: a proxy on a closed loopback port and a
 * temporary HOME keep sigstore's trust-root refresh on this machine.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.ts";
import { tempDir } from "./helpers/fixtures.ts";

describe("the bundle's libnpmpublish", () => {
  it("loads sigstore when a provenance bundle is verified: the error is sigstore's own, not a missing module", async () => {
    const bundle = path.join(REPO_ROOT, "packages/flotilla/bundle");
    const chunk = readdirSync(bundle).find(
      (f) => f.endsWith(".mjs") && readFileSync(path.join(bundle, f), "utf8").includes("libnpmpublish/lib/index.js"),
    );
    expect(chunk, "no bundle chunk holds libnpmpublish (run pnpm build)").toBeDefined();
    const dir = tempDir();
    const tarball = Buffer.from("a tarball");
    const sha512 = createHash("sha512").update(tarball).digest("hex");
    const payload = { subject: [{ name: "pkg:npm/%40acme/a@1.0.0", digest: { sha512 } }] };
    const provenance = path.join(dir, "a.sigstore");
    writeFileSync(
      provenance,
      JSON.stringify({
        dsseEnvelope: { payload: Buffer.from(JSON.stringify(payload)).toString("base64"), payloadType: "x", signatures: [] },
      }),
    );
    const script = `
      const { default: lib } = await import(${JSON.stringify(path.join(bundle, chunk!))});
      const err = await lib.publish({ name: "@acme/a", version: "1.0.0" }, Buffer.from("a tarball"),
        { provenanceFile: ${JSON.stringify(provenance)}, registry: "http://127.0.0.1:9/" }).catch((e) => e);
      console.log(JSON.stringify({ name: err?.constructor?.name, message: String(err?.message) }));`;
    const closed = "http://127.0.0.1:9";
    const r = await execa(process.execPath, ["--input-type=module", "-e", script], {
      env: { HOME: dir, HTTPS_PROXY: closed, https_proxy: closed, HTTP_PROXY: closed, http_proxy: closed },
      reject: false,
    });
    const out = JSON.parse(r.stdout) as { name: string; message: string };
    // sigstore got as far as its trust root (TUF), which the closed proxy refuses.
    expect(out.name, r.stdout + r.stderr).toBe("TUFError");
  });
});
