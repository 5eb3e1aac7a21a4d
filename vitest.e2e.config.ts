import { defineConfig } from "vitest/config";

// Each e2e file boots its own machines (own names, own private network); they mostly wait on
// health-check timers, so running files side by side shortens the suite without changing it.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 900_000,
    fileParallelism: true,
    maxWorkers: 3,
  },
});
