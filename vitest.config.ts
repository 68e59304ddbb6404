import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { pulumiEnv, repoRoot } from "./scripts/pulumiEnv.ts";
import { SummaryLineReporter } from "./scripts/vitestSummaryReporter.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pulumi stacks a test forgets to isolate land here, never among the user's own stacks.
    env: pulumiEnv(process.env, join(repoRoot, ".state", "pulumi-test")),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default", new SummaryLineReporter()],
  },
});
