#!/usr/bin/env node
// Node's on-disk compile cache (as changesets' bin enables it): later starts skip re-parsing.
import module from "node:module";
// Inlined by the bundle (scripts/bundle.ts); read by Node from the package otherwise.
import manifest from "../package.json" with { type: "json" };

module.enableCompileCache?.();
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  process.stdout.write(`${manifest.version}\n`);
} else {
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(argv);
}
