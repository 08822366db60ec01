// The libraries are plain JavaScript: "building" copies src/ to dist/ and stamps the version,
// so the example needs no dependencies of its own.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const { name, version } = JSON.parse(readFileSync("package.json", "utf8"));
mkdirSync("dist", { recursive: true });
cpSync("src", "dist", { recursive: true });
writeFileSync("dist/meta.js", `export const meta = ${JSON.stringify({ name, version })};\n`);
console.log(`built ${name}@${version}`);
