// examples/workload end to end (Automation API against a private lab): an NsmWorkload (a
// Deployment carrying NSM's annotation) of 3 replicas on red beside two red VMs and a blue one.
// No PodAttachment: the lab's webhook and kubelet attach every replica. A bad interface name
// fails the preview and creates nothing; the replicas reach both red VMs and not blue; a rolling
// update, scaling to 4 and back to 2 leave exactly one interface, connection and set of TF
// objects per replica; destroy leaves nothing.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { isReady } from "../../harness/kube.ts";
import * as ip from "../../lib/kernel/ip.ts";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import type { Pod } from "../../wire/kubernetes.ts";
import { commandOutput, expectDestroyLeavesNothing, labInventory, labStackFixture, leaksOf } from "./helpers.ts";
import { netnsOfPod } from "./kube.ts";
import { labStack } from "../../harness/pulumiStack.ts";

const workDir = join(repoRoot, "examples", "workload");
const stackConfigDir = join(repoRoot, ".state", "stacks", "workload");
const STEP = 300_000;
// 2 networks (VN + service + component), 3 VMs, the workload (component + Deployment), the Kubernetes provider, the stack
const RESOURCES = 13;
const VMS = 3;
const WAIT = { timeoutMs: 120_000, intervalMs: 500 };

const t = labStackFixture(workDir, stackConfigDir);

let vmIps: Record<string, string>;

const replicas = async () => (await t.kube.list<Pod>(resourcePath("v1", "pods", "default"), { labelSelector: "app=web" })).items;

/** What the replicas hold right now: Ready pods, their nsm-* interfaces, NSM connections and TF objects beyond the VMs'. */
async function tally() {
  const pods = await replicas();
  const interfaces: string[] = [];
  for (const p of pods.filter(isReady)) {
    const links = await ip.json<{ ifname: string }>(["link", "show"], await netnsOfPod(t.kube, p.metadata.name));
    interfaces.push(...links.filter((l) => l.ifname.startsWith("nsm-")).map((l) => `${p.metadata.name}/${l.ifname}`));
  }
  const connections = (await t.api.nsm.listConnections()).filter((c) => c.network_service === "wl-red");
  const tf = (await labInventory(t.lab, t.api)).tf;
  const beyond = (type: keyof typeof tf) => tf[type].length - t.before.tf[type].length - VMS;
  return {
    pods: pods.length,
    ready: pods.filter(isReady).length,
    interfaces: interfaces.length,
    connections: connections.length,
    tf: { vm: beyond("virtual-machine"), vmi: beyond("virtual-machine-interface"), iip: beyond("instance-ip") },
    podUids: pods.map((p) => p.metadata.uid).sort(),
    connectionUids: connections.map((c) => c.labels?.podUid).sort(),
  };
}

/** Waits until `n` replicas are Ready and nothing else is left: one interface, connection and VM/VMI/instance-ip each. */
async function expectAttachedReplicas(n: number) {
  let last: Awaited<ReturnType<typeof tally>> | undefined;
  try {
    await eventually(
      async () => {
        last = await tally();
        return last.pods === n && last.ready === n && last.interfaces === n && last.connections === n && last.tf.vm === n && last.tf.vmi === n && last.tf.iip === n;
      },
      { what: `${n} attached replicas`, ...WAIT },
    );
  } catch (e) {
    throw new Error(`expected ${n} attached replicas and nothing more; last seen ${JSON.stringify(last)}`, { cause: e });
  }
  expect(last!.connectionUids).toEqual(last!.podUids);
  return last!;
}

describe("examples/workload on the lab", () => {
  it("refuses a bad interface name at preview, naming the field, and creates nothing", async () => {
    await t.e2e.stack.setConfig("workload:interfaceName", { value: "much-too-long-name" });
    const err = await t.e2e.stack.preview().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(commandOutput(err)).toMatch(/networks\[0\]\.interfaceName: interface name "much-too-long-name" is 18 characters; Linux allows at most 15/);
    await t.e2e.stack.removeConfig("workload:interfaceName");
    expect(leaksOf(t.before, await labInventory(t.lab, t.api))).toEqual([]);
  }, STEP);

  it("up runs 3 replicas on red, each with nsm-1 and its TF objects", async () => {
    const up = await t.e2e.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges).toEqual({ create: RESOURCES });
    expect(up.outputs.annotation!.value).toBe("kernel://wl-red/nsm-1");
    vmIps = Object.fromEntries((up.outputs.vmAddresses!.value as Array<{ name: string; ip: string }>).map((v) => [v.name, v.ip]));
    await expectAttachedReplicas(3);
  }, STEP);

  it("the replicas reach both red VMs and none reaches the blue one", async () => {
    for (const p of await replicas()) {
      const ns = await netnsOfPod(t.kube, p.metadata.name);
      const reach = async (vm: string) => (await t.lab.ping(ns, vmIps[vm]!, { count: 1, wait: 2 })).ok;
      expect(await reach("wl-red-vm-1"), `${p.metadata.name} -> wl-red-vm-1`).toBe(true);
      expect(await reach("wl-red-vm-2"), `${p.metadata.name} -> wl-red-vm-2`).toBe(true);
      expect(await reach("wl-blue-vm"), `${p.metadata.name} -> wl-blue-vm`).toBe(false);
    }
  }, STEP);

  it("a PodAttachment on a replica coexists with the annotation: nsm-1 stays the annotation's, the attachment gets nsm-2", async () => {
    const target = (await replicas())[0]!;
    const ns = await netnsOfPod(t.kube, target.metadata.name);
    const coexist = await labStack(t.lab, join(repoRoot, "test", "e2e", "programs", "coexist"), join(repoRoot, ".state", "stacks", "e2e-coexist"), {
      "coexist:pod": target.metadata.name,
      "coexist:networkService": "wl-red",
      "coexist:interfaceName": "nsm-1",
    }, { namePrefix: "e2e-coexist" });
    try {
      const err = await coexist.stack.preview().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(commandOutput(err)).toMatch(/property interfaceName value \{nsm-1\} has a problem: \\?"nsm-1\\?" is the interface entry 1 of pod default\/web-[a-z0-9-]+'s networkservicemesh.io annotation asks for/);
      await coexist.stack.removeConfig("coexist:interfaceName");
      const up = await coexist.stack.up();
      const attached = up.outputs.attached!.value as { interfaceName: string; ip: string; podUid: string; state: string };
      expect(attached).toMatchObject({ interfaceName: "nsm-2", podUid: target.metadata.uid, state: "UP" });
      const links = async () => (await ip.json<{ ifname: string }>(["link", "show"], ns)).map((l) => l.ifname).filter((n) => n.startsWith("nsm-")).sort();
      expect(await links()).toEqual(["nsm-1", "nsm-2"]);
      // Refresh reads both as they are: neither stack sees a change.
      expect((await coexist.stack.refresh()).summary.resourceChanges).toEqual({ same: 2 });
      expect((await t.e2e.stack.refresh()).summary.resourceChanges).toEqual({ same: RESOURCES });
      expect((await coexist.stack.destroy()).summary.resourceChanges).toEqual({ delete: 2 });
      expect(await links()).toEqual(["nsm-1"]);
      expect((await replicas()).find((p) => p.metadata.name === target.metadata.name)?.metadata.uid).toBe(target.metadata.uid);
      await expectAttachedReplicas(3);
    } finally {
      await coexist.remove();
    }
  }, STEP);

  it("a rolling update (new image tag) ends with 3 attached replicas and nothing left of the old ones", async () => {
    const old = new Set((await replicas()).map((p) => p.metadata.uid));
    await t.e2e.stack.setConfig("workload:image", { value: "busybox:1.37" });
    const up = await t.e2e.stack.up();
    expect(up.summary.resourceChanges).toEqual({ update: 1, same: RESOURCES - 1 });
    const now = await expectAttachedReplicas(3);
    expect(now.podUids.filter((u) => old.has(u))).toEqual([]);
    expect((await replicas()).map((p) => p.spec.containers[0]!.image)).toEqual(["busybox:1.37", "busybox:1.37", "busybox:1.37"]);
    const podNamespaces = t.lab.namespaces().filter((n) => n.startsWith(`${t.lab.prefix}-pod-`));
    expect(podNamespaces).toHaveLength(3);
  }, STEP);

  it("scaling to 4 attaches the new replica; back to 2 detaches the removed ones", async () => {
    await t.e2e.stack.setConfig("workload:replicas", { value: "4" });
    expect((await t.e2e.stack.up()).summary.result).toBe("succeeded");
    await expectAttachedReplicas(4);
    await t.e2e.stack.setConfig("workload:replicas", { value: "2" });
    expect((await t.e2e.stack.up()).summary.result).toBe("succeeded");
    await expectAttachedReplicas(2);
    expect(t.lab.namespaces().filter((n) => n.startsWith(`${t.lab.prefix}-pod-`))).toHaveLength(2);
  }, STEP);

  it("destroy leaves nothing behind", async () => {
    await expectDestroyLeavesNothing(t, RESOURCES);
  }, STEP);
});
