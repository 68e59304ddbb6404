// The toolchain end to end through the Automation API: Pulumi CLI built in .tools/bin, our
// language host running examples/smoke on Node 24, the dynamic-provider plugin loading the
// Marker provider's implementation from a package export at call time.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pulumiEnv, repoRoot } from "../../scripts/pulumiEnv.ts";

const markerType = "pulumi-nodejs:dynamic/smoke:Marker";
const workDir = join(repoRoot, "examples", "smoke");
const stackName = `smoke-${randomBytes(4).toString("hex")}`;

describe("smoke stack lifecycle (preview, up, refresh, destroy)", () => {
  let tempDir: string;
  let markerPath: string;
  let stack: pulumi.automation.Stack;

  beforeAll(async () => {
    tempDir = await mkdtemp(join(tmpdir(), "tfmesh-smoke-"));
    const markerDir = join(tempDir, "markers");
    markerPath = join(markerDir, `${stackName}.txt`);
    const backendDir = join(tempDir, "backend");
    await mkdir(backendDir);
    stack = await pulumi.automation.LocalWorkspace.createStack(
      { stackName, workDir },
      {
        pulumiHome: join(tempDir, "pulumi-home"),
        envVars: {
          ...pulumiEnv(process.env),
          PULUMI_BACKEND_URL: `file://${backendDir}`,
          TFMESH_SMOKE_DIR: markerDir,
        },
      },
    );
  });

  afterAll(async () => {
    try {
      if (stack) {
        await stack.destroy().catch(() => undefined);
        await stack.workspace.removeStack(stackName).catch(() => undefined);
      }
    } finally {
      await rm(join(repoRoot, ".state", "stacks", "smoke", `Pulumi.${stackName}.yaml`), { force: true });
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    }
  });

  it("preview plans the stack and the marker but creates nothing", async () => {
    const preview = await stack.preview();
    expect(preview.changeSummary).toEqual({ create: 2 });
    expect(existsSync(markerPath)).toBe(false);
  });

  it("up runs the provider's create and publishes its outputs", async () => {
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges).toEqual({ create: 2 });
    expect(await readFile(markerPath, "utf8")).toBe("hello from tfmesh");
    expect(up.outputs.markerPath?.value).toBe(markerPath);
    expect(up.outputs.markerSize?.value).toBe(17);
  });

  it("state holds a small provider shim that names its implementation instead of embedding it", async () => {
    const state = await stack.exportStack();
    const marker = state.deployment.resources.find((r: { type: string }) => r.type === markerType);
    const providerText: string = marker.inputs.__provider;
    expect(providerText).toContain("import(implementation)");
    expect(providerText).toContain('"tfmesh/harness/smoke/markerProvider"');
    expect(providerText).not.toContain("writeFile");
    expect(Buffer.byteLength(providerText)).toBeLessThan(4096);
  });

  it("refresh records drift, and the next up repairs it", async () => {
    await writeFile(markerPath, "tampered");
    const refresh = await stack.refresh();
    expect(refresh.summary.resourceChanges).toMatchObject({ update: 1 });
    const state = await stack.exportStack();
    const marker = state.deployment.resources.find((r: { type: string }) => r.type === markerType);
    expect(marker.outputs.text).toBe("tampered");

    const repair = await stack.up();
    expect(repair.summary.resourceChanges).toMatchObject({ update: 1 });
    expect(await readFile(markerPath, "utf8")).toBe("hello from tfmesh");
  });

  it("destroy deletes the marker and leaves an empty stack", async () => {
    const destroy = await stack.destroy();
    expect(destroy.summary.resourceChanges).toEqual({ delete: 2 });
    expect(existsSync(markerPath)).toBe(false);
    const state = await stack.exportStack();
    expect(state.deployment.resources ?? []).toHaveLength(0);
  });
});
