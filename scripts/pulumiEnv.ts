// The environment every tfmesh process that drives Pulumi needs: the toolchain on PATH (Pulumi
// CLI built in .tools/bin, Node 24 in node_modules/.bin) and a local, offline engine. The same
// defaults as scripts/env.sh, for code: vitest.config.ts, and tests that build their own env.
import { delimiter, join, resolve } from "node:path";

export const repoRoot = resolve(import.meta.dirname, "..");

/** Passphrase of the embedded lab's stacks (documented in README.md); real secrets need your own. */
export const defaultPassphrase = "tfmesh-lab";

/**
 * The export condition that makes `tfmesh/...` resolve to this checkout's TypeScript sources
 * instead of the built dist/ (package.json "exports"): the repository's own programs, and the
 * dynamic providers they start, run what is in the tree, never a stale build.
 */
export const sourceCondition = "--conditions=tfmesh-source";

/** NODE_OPTIONS with the source condition added once. */
export function withSourceCondition(nodeOptions: string | undefined): string {
  const options = (nodeOptions ?? "").split(/\s+/).filter(Boolean);
  return options.includes(sourceCondition) ? options.join(" ") : [...options, sourceCondition].join(" ");
}

/**
 * Environment for the Pulumi CLI and Automation API. Values in `base` win, except PATH, which
 * gets the project's tool folders in front, and NODE_OPTIONS, which gets the source condition.
 */
export function pulumiEnv(
  base: NodeJS.ProcessEnv = process.env,
  backendDir: string = join(repoRoot, ".state", "pulumi"),
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [join(repoRoot, ".tools", "bin"), join(repoRoot, "node_modules", ".bin"), base.PATH ?? ""].join(delimiter),
    NODE_OPTIONS: withSourceCondition(base.NODE_OPTIONS),
    PULUMI_BACKEND_URL: base.PULUMI_BACKEND_URL ?? `file://${backendDir}`,
    PULUMI_SKIP_UPDATE_CHECK: base.PULUMI_SKIP_UPDATE_CHECK ?? "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: base.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION ?? "true",
  };
  if (base.PULUMI_CONFIG_PASSPHRASE === undefined && !base.PULUMI_CONFIG_PASSPHRASE_FILE) {
    env.PULUMI_CONFIG_PASSPHRASE = defaultPassphrase;
  }
  return env;
}
