// Apps ship their sources as dist/ (the image copies dist/ and package.json).
import { cpSync, mkdirSync, readFileSync } from "node:fs";

const { name, version } = JSON.parse(readFileSync("package.json", "utf8"));
mkdirSync("dist", { recursive: true });
cpSync("src", "dist", { recursive: true });
console.log(`built ${name}@${version}`);
