// A throw-away stack of an in-repo Pulumi program on a bench lab: harness/pulumiStack.ts (the
// set-up test/e2e uses) with the CLI from .tools and its files tracked for cleanup, so an interrupt
// still removes them (after Ctrl-C the lab is being wiped anyway, and a destroy against it would
// only retry).
import fs from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../scripts/pulumiEnv.ts";
import type { TestLab } from "../harness/lab.ts";
import { labStack } from "../harness/pulumiStack.ts";
import type { LabStack } from "../harness/pulumiStack.ts";
import { track } from "./cleanup.ts";

export const pulumiRoot = join(repoRoot, ".tools");

export function pulumiInstalled(): boolean {
  return fs.existsSync(join(pulumiRoot, "bin", "pulumi"));
}

export type BenchStack = LabStack;

export function benchStack(lab: TestLab, workDir: string, stackConfigDir: string, config: Record<string, string> = {}): Promise<BenchStack> {
  return labStack(lab, workDir, stackConfigDir, config, { namePrefix: "bench", pulumiRoot, track });
}

/** The first lines of a failed Automation API command (its stderr carries the diagnostics). */
export function commandSummary(err: unknown, lines = 3): string {
  const e = err as { stderr?: string; message?: string };
  const text = (e.stderr?.trim() ? e.stderr : e.message) ?? String(err);
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").slice(0, lines).join(" | ");
}
