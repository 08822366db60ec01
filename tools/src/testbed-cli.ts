/**
 * `node tools/src/testbed-cli.ts start|stop|status|env`: the testbed from the shell.
 * `env` prints `export` lines (the throwaway local credentials included) for `eval`.
 */
import { readTestbed, startTestbed, stopTestbed, testbedEnv } from "./testbed/index.ts";

const cmd = process.argv[2] ?? "status";
if (cmd === "start") {
  const { testbed, started } = await startTestbed({ log: (s) => console.error(s) });
  console.log(
    `${started ? "started" : "already running"}: npm ${testbed.npm.url}, registry ${testbed.registry.url}, github ${testbed.github.url}, docker ${testbed.docker.host}`,
  );
} else if (cmd === "stop") {
  await stopTestbed();
  console.log("stopped");
} else if (cmd === "status") {
  const tb = readTestbed();
  console.log(
    tb
      ? JSON.stringify(
          { npm: tb.npm.url, registry: tb.registry.url, github: tb.github.url, docker: tb.docker.host, turboCache: tb.turboCache?.url },
          null,
          2,
        )
      : "not running",
  );
} else if (cmd === "env") {
  const tb = readTestbed();
  if (!tb) {
    console.error("testbed not running: start it with `node tools/src/testbed-cli.ts start`");
    process.exit(2);
  }
  for (const [k, v] of Object.entries(testbedEnv(tb))) console.log(`export ${k}=${JSON.stringify(v)}`);
} else {
  console.error("usage: testbed-cli.ts start|stop|status|env");
  process.exit(2);
}
