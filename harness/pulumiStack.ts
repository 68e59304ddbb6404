// A throw-away stack of an in-repo Pulumi program (workDir inside this package, so `tfmesh/...`
// resolves) on a temporary file backend, whose provider talks to a lab through TFMESH_ENDPOINTS:
// what the e2e tests and the Pulumi benchmark run.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { pulumiEnv } from "../scripts/pulumiEnv.ts";
import type { TestLab } from "./lab.ts";

export interface LabStack {
  stack: pulumi.automation.Stack;
  /** Destroys what is left (best effort), then removes the stack, its config file and the backend. */
  remove(): Promise<void>;
}

export interface LabStackOptions {
  /** Stack names are `<namePrefix>-<8 hex>`. Default "e2e". */
  namePrefix?: string;
  /** Where the Pulumi CLI lives (`<root>/bin/pulumi`); default: the one on PATH. */
  pulumiRoot?: string;
  /**
   * Called with the removal of the stack's files before anything is created; returns the function
   * that runs it (for example one that also runs on Ctrl-C). Default: the removal itself.
   */
  track?: (label: string, removeFiles: () => Promise<void>) => () => Promise<void>;
}

export async function labStack(
  lab: TestLab,
  workDir: string,
  stackConfigDir: string,
  config: Record<string, string> = {},
  opts: LabStackOptions = {},
): Promise<LabStack> {
  const namePrefix = opts.namePrefix ?? "e2e";
  const stackName = `${namePrefix}-${randomBytes(4).toString("hex")}`;
  const tempDir = await mkdtemp(join(tmpdir(), `tfmesh-${namePrefix}-`));
  const removeFiles = async () => {
    await rm(join(stackConfigDir, `Pulumi.${stackName}.yaml`), { force: true });
    await rm(tempDir, { recursive: true, force: true });
  };
  const release = (opts.track ?? ((_label, f) => f))(`pulumi stack ${stackName}`, removeFiles);
  try {
    await mkdir(join(tempDir, "backend"));
    const stack = await pulumi.automation.LocalWorkspace.createStack(
      { stackName, workDir },
      {
        ...(opts.pulumiRoot !== undefined ? { pulumiCommand: await pulumi.automation.PulumiCommand.get({ root: opts.pulumiRoot }) } : {}),
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
