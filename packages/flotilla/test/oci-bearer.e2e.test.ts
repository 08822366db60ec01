/**
 * The bearer-token flow ghcr.io uses, against the real registry (CNCF distribution) set up
 * with token auth: a 401 challenge names the token realm, the client fetches a token there with
 * Basic credentials, then retries with it. The token endpoint here is a small signer in this
 * test (the role ghcr.io's /token plays); the registry verifies what it signs.
 */
import { execFileSync } from "node:child_process";
import { createSign, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answers, freePort, startDaemon, stopDaemon, waitFor } from "../../../tools/src/testbed/proc.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { tempDir } from "./helpers/fixtures.ts";
import { testbed } from "./helpers/testbed.ts";

const USER = "octocat";
const PASSWORD = `ghp_${randomBytes(12).toString("hex")}`;
const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

let registryPid = 0;
let tokenServer: http.Server;
let host = "";
let tokenRequests = 0;

beforeAll(async () => {
  const dir = tempDir("oci-bearer-");
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=flotilla-token-signer"],
    { stdio: "pipe" },
  );
  const certDer = execFileSync("openssl", ["x509", "-in", cert, "-outform", "DER"]);
  const keyPem = readFileSync(key, "utf8");

  const tokenPort = await freePort();
  tokenServer = http.createServer((req, res) => {
    tokenRequests++;
    const url = new URL(req.url ?? "/", "http://x");
    const auth = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
    if (auth !== `${USER}:${PASSWORD}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
    }
    const access = url.searchParams.getAll("scope").map((s) => {
      const [type, name, actions] = s.split(":");
      return { type, name, actions: (actions ?? "").split(",").filter(Boolean) };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", x5c: [certDer.toString("base64")] };
    const claims = {
      iss: "flotilla-test-issuer",
      sub: USER,
      aud: "flotilla-test",
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString("hex"),
      access,
    };
    const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign("RSA-SHA256").update(unsigned).sign(keyPem);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token: `${unsigned}.${b64url(sig)}`, expires_in: 300 }));
  });
  await new Promise<void>((r) => tokenServer.listen(tokenPort, "127.0.0.1", r));

  const port = await freePort();
  host = `127.0.0.1:${port}`;
  mkdirSync(path.join(dir, "storage"));
  const config = [
    "version: 0.1",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${path.join(dir, "storage")}`,
    "http:",
    `  addr: ${host}`,
    "auth:",
    "  token:",
    `    realm: http://127.0.0.1:${tokenPort}/token`,
    "    service: flotilla-test",
    "    issuer: flotilla-test-issuer",
    `    rootcertbundle: ${cert}`,
    "",
  ].join("\n");
  writeFileSync(path.join(dir, "config.yml"), config);
  registryPid = startDaemon("docker-registry", ["serve", path.join(dir, "config.yml")], { logFile: path.join(dir, "registry.log") });
  await waitFor("token-auth registry", () => answers(`http://${host}/v2/`));

  // Push an image through the daemon, which does the same token dance itself.
  const tb = testbed();
  const docker = new Docker({ socketPath: tb.docker.host.replace("unix://", "") });
  await docker.getImage(tb.docker.baseImage).tag({ repo: `${host}/octo/app`, tag: "1.0.0" });
  const stream = await docker
    .getImage(`${host}/octo/app`)
    .push({ tag: "1.0.0", authconfig: { username: USER, password: PASSWORD, serveraddress: host } });
  const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
    docker.modem.followProgress(stream, (e: Error | null, out: { error?: string }[]) => (e ? reject(e) : resolve(out))),
  );
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(failed.error);
}, 120_000);

afterAll(async () => {
  if (registryPid) await stopDaemon(registryPid);
  tokenServer?.close();
});

describe("OCI registry client: bearer-token auth", () => {
  it("answers the challenge, lists tags, reads digests and copies a manifest to new tags", async () => {
    const reg = new OciRegistry({ host, username: USER, password: PASSWORD });
    const before = tokenRequests;
    expect(await reg.check()).toEqual({ ok: true });
    expect(await reg.tags("octo/app")).toEqual(["1.0.0"]);
    const digest = await reg.digest("octo/app", "1.0.0");
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await reg.copyTag("octo/app", "1.0.0", "latest")).toBe(digest);
    expect(await reg.digest("octo/app", "latest")).toBe(digest);
    expect((await reg.tags("octo/app")).sort()).toEqual(["1.0.0", "latest"]);
    expect(tokenRequests).toBeGreaterThan(before);
    // Credentials went only to the token realm: the registry itself saw bearer tokens only.
    const raw = await fetch(`http://${host}/v2/`, {
      headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}` },
    });
    expect(raw.status).toBe(401);
  });

  it("requests side by side that meet the same challenge share one token request", async () => {
    const reg = new OciRegistry({ host, username: USER, password: PASSWORD });
    expect(await reg.check()).toEqual({ ok: true });
    const before = tokenRequests;
    // An image's floating tags move side by side (image-promote): three 401s, one token.
    const digests = await Promise.all(["a", "b", "c"].map((t) => reg.copyTag("octo/app", "1.0.0", `side-${t}`)));
    expect(new Set(digests).size).toBe(1);
    expect(tokenRequests - before).toBe(1);
  });

  it("refused credentials are reported as such", async () => {
    const reg = new OciRegistry({ host, username: USER, password: "wrong" });
    expect(await reg.check()).toEqual({ ok: false, reason: "credentials refused" });
  });
});
