import { defineConfig } from "vitest/config";
import { hbsVite } from "./scripts/hbs.mjs";

export default defineConfig({
  // templates/*.hbs load precompiled, as in the bundle.
  plugins: [hbsVite],
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
