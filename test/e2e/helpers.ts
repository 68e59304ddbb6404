// Automation API plumbing shared by the e2e tests: a stack of an in-repo program on a private
// lab instance with its own backend, and its removal afterwards.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { pulumiEnv } from "../../scripts/pulumiEnv.ts";
import type { TestLab } from "../helpers/lab.ts";

export interface E2eStack {
  stack: pulumi.automation.Stack;
  /** Removes the stack's resources (best effort), the stack, its config file and the backend. */
  remove(): Promise<void>;
}

/**
 * A fresh stack of the program in `workDir` (inside this repo, so `tfmesh/...` resolves), on a
 * temporary file backend, whose provider talks to `lab` through TFMESH_ENDPOINTS.
 */
export async function labStack(lab: TestLab, workDir: string, stackConfigDir: string, config: Record<string, string> = {}): Promise<E2eStack> {
  const stackName = `e2e-${randomBytes(4).toString("hex")}`;
  const tempDir = await mkdtemp(join(tmpdir(), "tfmesh-e2e-"));
  await mkdir(join(tempDir, "backend"));
  const stack = await pulumi.automation.LocalWorkspace.createStack(
    { stackName, workDir },
    {
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
        await rm(join(stackConfigDir, `Pulumi.${stackName}.yaml`), { force: true });
        await rm(tempDir, { recursive: true, force: true });
      }
    },
  };
}

/** The error text of a failed Automation API command (stdout and stderr carry the diagnostics). */
export function commandOutput(err: unknown): string {
  const e = err as { stdout?: string; stderr?: string; message?: string };
  return `${e.message ?? ""}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`;
}
