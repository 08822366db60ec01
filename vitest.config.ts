import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "tools/test/**/*.test.ts"],
    globalSetup: ["tools/src/vitest-global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: end-to-end files share one testbed; keep parallelism modest.
    maxWorkers: 2,
  },
});
