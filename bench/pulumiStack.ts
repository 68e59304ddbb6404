// A throw-away stack of an in-repo Pulumi program (workDir inside this package, so `tfmesh/...`
// resolves) on a temporary file backend, whose provider talks to a bench lab through
// TFMESH_ENDPOINTS: the set-up test/e2e uses, plus an interrupt path that only removes files
// (after Ctrl-C the lab is being wiped anyway, and a destroy against it would only retry).
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { pulumiEnv, repoRoot } from "../scripts/pulumiEnv.ts";
import type { TestLab } from "../test/helpers/lab.ts";
import { track } from "./cleanup.ts";

export const pulumiRoot = join(repoRoot, ".tools");

export function pulumiInstalled(): boolean {
  return fs.existsSync(join(pulumiRoot, "bin", "pulumi"));
}

export interface BenchStack {
  stack: pulumi.automation.Stack;
  /** Destroys what is left (best effort), then removes the stack, its config file and the backend. */
  remove(): Promise<void>;
}

export async function benchStack(lab: TestLab, workDir: string, stackConfigDir: string, config: Record<string, string> = {}): Promise<BenchStack> {
  const stackName = `bench-${randomBytes(4).toString("hex")}`;
  const tempDir = await mkdtemp(join(tmpdir(), "tfmesh-bench-pulumi-"));
  const removeFiles = async () => {
    await rm(join(stackConfigDir, `Pulumi.${stackName}.yaml`), { force: true });
    await rm(tempDir, { recursive: true, force: true });
  };
  const release = track(`pulumi stack ${stackName}`, removeFiles);
  try {
    await mkdir(join(tempDir, "backend"));
    const stack = await pulumi.automation.LocalWorkspace.createStack(
      { stackName, workDir },
      {
        pulumiCommand: await pulumi.automation.PulumiCommand.get({ root: pulumiRoot }),
        pulumiHome: join(tempDir, "pulumi-home"),
        envVars: { ...pulumiEnv(process.env), PULUMI_BACKEND_URL: `file://${join(tempDir, "backend")}`, TFMESH_ENDPOINTS: lab.endpointsFile },
      },
    );
    for (const [k, v] of Object.entries(config)) await stack.setConfig(k, { value: v });
    return {
      stack,
      async remove() {
        try {
          await stack.destroy().catch(() => undefined);
          await stack.workspace.removeStack(stackName).catch(() => undefined);
        } finally {
          await release();
        }
      },
    };
  } catch (e) {
    await release();
    throw e;
  }
}

/** The first lines of a failed Automation API command (its stderr carries the diagnostics). */
export function commandSummary(err: unknown, lines = 3): string {
  const e = err as { stderr?: string; message?: string };
  const text = (e.stderr?.trim() ? e.stderr : e.message) ?? String(err);
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").slice(0, lines).join(" | ");
}
