#!/usr/bin/env node
/**
 * The GitHub Action's entry (action.yml: runs.using node24, main: the bundle built from this file).
 * A node action gets its inputs as INPUT_<NAME> variables; `args` is one string, split as a shell
 * would split words and quotes (string-argv), never run through a shell (SPEC §9). The outputs are
 * written by the commands themselves (GITHUB_OUTPUT).
 */
import { getInput } from "@actions/core";
import { parseArgsStringToArgv } from "string-argv";

const command = getInput("command") || "ci";
const args = parseArgsStringToArgv(getInput("args"));
const { main } = await import("../dist/cli/main.js");

process.exitCode = await main([command, ...args]);
