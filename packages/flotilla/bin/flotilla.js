#!/usr/bin/env node
// Node's on-disk compile cache (as changesets' bin enables it): later starts skip re-parsing.
import module from "node:module";

module.enableCompileCache?.();
const { main } = await import("../dist/cli/main.js");

process.exitCode = await main(process.argv.slice(2));
