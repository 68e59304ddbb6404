// Crashes lose nothing and leave nothing (issue 12), end to end: test/e2e/programs/crash (a
// network with its service, a VM on it, a pod attached to it) deployed through the Automation API
// with a crash injected at a named step, not timed. The provider killed by its hook
// (TFMESH_CRASH_AT) right after Nova accepted the server, or right after NSM answered the
// attachment's Request; the lab daemon killed by its hook (TFMESH_LAB_CRASH_AT) right after Nova
// committed the server and before it answered, or when the provider first asks about the answered
// server (which the provider then reports to the engine with its id); the Pulumi CLI killed with
// every process it started while the provider stands paused at one of those steps
// (TFMESH_PAUSE_AT), then `pulumi cancel`. Each time one
// `pulumi up --refresh` (after `lab up` when the lab died) recovers: the retried create takes over
// what the interrupted one made (one server, one connection, no duplicates), packets flow, a
// further up changes nothing, and destroy leaves a leak count of 0 across TF, Neutron, Nova, NSM,
// Kubernetes, the vRouter agents and the kernel. Last, an unplugged VM port shows as drift on
// refresh and the next up plugs it again.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LAB_CRASH_ENV, PAUSE_DIR_ENV, PAUSE_ENV, PROVIDER_CRASH_ENV, pausedPidFile } from "../../lib/crashPoint.ts";
import { eventually } from "../../harness/eventually.ts";
import { ancestorNamed, killTree } from "../../harness/processTree.ts";
import { OWNER_METADATA, STATE_METADATA } from "../../provider/impl/identity.ts";
import { VrouterAgentClient } from "../../wire/vrouterAgent.ts";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { commandOutput, expectDestroyLeavesNothing, labInventory, labStackFixture, leaksOf } from "./helpers.ts";
import { kubeInventory } from "../../harness/kube.ts";
import { netnsOfPod } from "./kube.ts";

const workDir = join(repoRoot, "test", "e2e", "programs", "crash");
const stackConfigDir = join(repoRoot, ".state", "stacks", "e2e-crash");
const STEP = 300_000;
// the stack; net (component + VN + service); the VM; pod (component + k8s pod + attachment); the
// Kubernetes provider
const RESOURCES = 9;
const VM_TYPE = "pulumi-nodejs:dynamic/openstack:VirtualMachine";
const ATTACHMENT_TYPE = "pulumi-nodejs:dynamic/nsm:PodAttachment";

const t = labStackFixture(workDir, stackConfigDir);

interface Outs { vmId: string; vmIp: string; vmPort: string; vmHost: string; podIp: string; connectionId: string }

const outputsOf = (r: { outputs: Record<string, { value: unknown }> }) =>
  Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.value])) as unknown as Outs;

/** The types of the resources the stack's state holds. */
async function trackedTypes(): Promise<string[]> {
  const state = await t.e2e.stack.exportStack();
  return (state.deployment.resources ?? []).map((r: { type: string }) => r.type);
}

/** `pulumi up`, which must fail; answers its output. */
async function failingUp(why: string): Promise<string> {
  const err = await t.e2e.stack.up().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, why).toBeDefined();
  return commandOutput(err);
}

/** `pulumi up` with the provider's crash hook armed at `step`: it fails, the provider killed there. */
async function upKillingProviderAt(step: string): Promise<string> {
  const env = t.e2e.stack.workspace.envVars;
  env[PROVIDER_CRASH_ENV] = step;
  try {
    return await failingUp(`up with ${PROVIDER_CRASH_ENV}=${step} fails`);
  } finally {
    delete env[PROVIDER_CRASH_ENV];
  }
}

/** The lab restarted with its crash hook armed at `step`, then `pulumi up`: it fails, the daemon killed there. */
async function upKillingLabAt(step: string): Promise<string> {
  process.env[LAB_CRASH_ENV] = step;
  try {
    await t.lab.restart();
  } finally {
    delete process.env[LAB_CRASH_ENV];
  }
  return failingUp(`up against a lab with ${LAB_CRASH_ENV}=${step} fails`);
}

/**
 * `pulumi up` paused by the provider's hook at `step`, then the Pulumi CLI and every process it
 * started (language host, program, providers) killed with SIGKILL, as an operator's `kill -9`
 * would; then `pulumi cancel` removes the lock the dead update left. Answers the killed pids.
 */
async function upWithEngineKilledAt(step: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "tfmesh-pause-"));
  const env = t.e2e.stack.workspace.envVars;
  env[PAUSE_ENV] = step;
  env[PAUSE_DIR_ENV] = dir;
  try {
    const up = t.e2e.stack.up().then(
      () => undefined,
      (e: unknown) => e,
    );
    const provider = await eventually(() => Number(readFileSync(pausedPidFile(dir, step), "utf8")), {
      what: `the provider to pause at ${step}`,
      timeoutMs: 240_000,
      intervalMs: 200,
    });
    const cli = ancestorNamed(provider, "pulumi");
    expect(cli, "the paused provider runs under the Pulumi CLI").toBeDefined();
    const killed = killTree(cli!);
    expect(await up, "up of a killed CLI fails").toBeDefined();
    await t.e2e.stack.cancel();
    return killed;
  } finally {
    delete env[PAUSE_ENV];
    delete env[PAUSE_DIR_ENV];
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The servers Nova holds, with the state of their create (metadata tfmesh-state). */
async function servers(): Promise<Array<{ id: string; owner?: string; state?: string }>> {
  return (await t.api.openstack.nova.listServers()).map((s) => ({ id: s.id, owner: s.metadata?.[OWNER_METADATA], state: s.metadata?.[STATE_METADATA] }));
}

/**
 * One `pulumi up --refresh` recovers: one server (the tracked one, its create finished), one
 * connection (the tracked one), one pod; the pod and the VM reach each other; another up changes
 * nothing; destroy then leaves a leak count of 0.
 */
async function recoveryConvergesAndDestroyLeavesNothing(): Promise<Outs> {
  const up = await t.e2e.stack.up({ refresh: true });
  expect(up.summary.result).toBe("succeeded");
  const outs = outputsOf(up);
  expect(await servers()).toEqual([{ id: outs.vmId, owner: expect.stringMatching(/::vm$/), state: "created" }]);
  expect((await t.api.nsm.listConnections()).map((c) => c.id)).toEqual([outs.connectionId]);
  expect((await kubeInventory(t.kube)).pods).toEqual(["default/crash-pod"]);
  expect((await t.api.tf.list("virtual-network")).filter((v) => v.fq_name.at(-1) === "crash-net")).toHaveLength(1);
  expect((await t.lab.ping(await netnsOfPod(t.kube, "crash-pod"), outs.vmIp, { count: 1, wait: 2 })).ok, "the pod reaches the tracked VM").toBe(true);
  expect((await t.lab.ping(outs.vmId, outs.podIp, { count: 1, wait: 2 })).ok, "the tracked VM reaches the pod").toBe(true);
  expect((await t.e2e.stack.up()).summary.resourceChanges).toEqual({ same: RESOURCES });
  await expectDestroyLeavesNothing(t, RESOURCES);
  expect(leaksOf(t.before, await labInventory(t.lab, t.api))).toEqual([]);
  return outs;
}

describe("a crash in the middle of up, then up --refresh", () => {
  it("provider killed right after Nova accepted the server: the retried create takes that server over, no second one", async () => {
    const out = await upKillingProviderAt("vm.server-accepted");
    expect(out).toMatch(/killing process \d+ at step vm\.server-accepted/);
    expect(await trackedTypes()).not.toContain(VM_TYPE);
    expect(await servers()).toEqual([{ id: expect.any(String), owner: expect.stringMatching(/::vm$/), state: "creating" }]);
    await recoveryConvergesAndDestroyLeavesNothing();
  }, STEP);

  it("provider killed right after NSM answered the attachment's Request: the retried create heals that connection, no second interface", async () => {
    const out = await upKillingProviderAt("attachment.requested");
    expect(out).toMatch(/killing process \d+ at step attachment\.requested/);
    expect(await trackedTypes()).not.toContain(ATTACHMENT_TYPE);
    const left = await t.api.nsm.listConnections();
    expect(left.map((c) => c.state)).toEqual(["UP"]);
    const outs = await recoveryConvergesAndDestroyLeavesNothing();
    expect(outs.connectionId, "the tracked connection is the one the interrupted create made").toBe(left[0]!.id);
  }, STEP);

  it("lab daemon killed right after Nova committed the server, before it answered: after lab up, the retried create takes it over", async () => {
    expect(await upKillingLabAt("nova.server-accepted")).toMatch(/POST \S+\/servers: cannot reach the server/);
    expect(await trackedTypes()).not.toContain(VM_TYPE);
    await t.lab.restart();
    expect(await servers()).toEqual([{ id: expect.any(String), owner: expect.stringMatching(/::vm$/), state: "creating" }]);
    await recoveryConvergesAndDestroyLeavesNothing();
  }, STEP);
});

describe("the Pulumi CLI killed with everything it started, then pulumi cancel and up --refresh", () => {
  it("killed right after Nova accepted the server: the retried create takes that server over, no second one", async () => {
    const killed = await upWithEngineKilledAt("vm.server-accepted");
    expect(killed.length, "the CLI, its language host, program and providers").toBeGreaterThan(2);
    expect(await servers()).toEqual([{ id: expect.any(String), owner: expect.stringMatching(/::vm$/), state: "creating" }]);
    await recoveryConvergesAndDestroyLeavesNothing();
  }, STEP);

  it("killed right after NSM answered the attachment's Request: the retried create heals that connection, no 'belongs to something else'", async () => {
    await upWithEngineKilledAt("attachment.requested");
    const left = await t.api.nsm.listConnections();
    expect(left.map((c) => c.state)).toEqual(["UP"]);
    const outs = await recoveryConvergesAndDestroyLeavesNothing();
    expect(outs.connectionId, "the tracked connection is the one the interrupted create made").toBe(left[0]!.id);
  }, STEP);
});

describe("a crash the provider sees after Nova answered", () => {
  it("lab daemon killed while the provider waits for the accepted server: the create is reported to the engine with the server's id, and after lab up the next up finishes it", async () => {
    expect(await upKillingLabAt("nova.build-polled")).toMatch(/deleting the server [0-9a-f-]+ also failed.*the stack keeps/s);
    const state = await t.e2e.stack.exportStack();
    const vm = state.deployment.resources.find((r: { type: string }) => r.type === VM_TYPE);
    expect(vm, "the engine tracks the half-made server").toBeDefined();
    expect(vm.initErrors?.length).toBeGreaterThan(0);
    await t.lab.restart();
    expect(await servers()).toEqual([{ id: vm.id, owner: expect.stringMatching(/::vm$/), state: "creating" }]);
    const outs = await recoveryConvergesAndDestroyLeavesNothing();
    expect(outs.vmId).toBe(vm.id);
  }, STEP);
});

describe("a VM port unplugged behind Nova's back", () => {
  it("shows as drift on refresh, the next up plugs it again, and destroy leaves nothing", async () => {
    const up = await t.e2e.stack.up();
    expect(up.summary.resourceChanges).toEqual({ create: RESOURCES });
    const outs = outputsOf(up);
    const agent = new VrouterAgentClient({ baseUrl: t.lab.endpoints.agents[outs.vmHost]!, retries: 0 });
    await agent.deletePort(outs.vmPort);
    expect((await t.lab.ping(await netnsOfPod(t.kube, "crash-pod"), outs.vmIp, { count: 1, wait: 2 })).ok).toBe(false);

    const refresh = await t.e2e.stack.refresh();
    expect(refresh.summary.resourceChanges).toEqual({ update: 1, same: RESOURCES - 1 });
    const vm = (await t.e2e.stack.exportStack()).deployment.resources.find((r: { type: string }) => r.type === VM_TYPE);
    expect(vm.outputs.unpluggedPorts).toEqual([outs.vmPort]);

    const repair = await t.e2e.stack.up();
    expect(repair.summary.resourceChanges).toEqual({ update: 1, same: RESOURCES - 1 });
    expect(outputsOf(repair).vmId).toBe(outs.vmId);
    expect(await agent.getPort(outs.vmPort)).toMatchObject({ id: outs.vmPort, "ip-address": outs.vmIp });
    expect((await t.lab.ping(await netnsOfPod(t.kube, "crash-pod"), outs.vmIp, { count: 1, wait: 2 })).ok).toBe(true);
    expect((await t.e2e.stack.refresh()).summary.resourceChanges).toEqual({ same: RESOURCES });
    await expectDestroyLeavesNothing(t, RESOURCES);
    expect(leaksOf(t.before, await labInventory(t.lab, t.api))).toEqual([]);
  }, STEP);
});
