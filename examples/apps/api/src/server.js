// The api app. `node dist/server.js --version` prints its name and version; without the flag it
// would serve HTTP (not needed by the demo).
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
if (process.argv.includes("--version")) {
  console.log(`${pkg.name} ${process.env.APP_VERSION ?? pkg.version}`);
} else {
  const { createServer } = await import("node:http");
  createServer((_, res) => res.end(JSON.stringify({ name: pkg.name, version: pkg.version }))).listen(3000);
}
