// The reference scenario (shared/design.md steps 1-6) end to end: examples/red-blue through the
// Automation API against a private lab — preview creates nothing, up builds it and packets flow
// as designed, a second up changes nothing, refresh finds drift made behind Pulumi's back (in the
// kernel, in TF, in Nova) and up repairs it, destroy leaves nothing behind.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as ip from "../../lib/kernel/ip.ts";
import type { TfRef } from "../../wire/tf.ts";
import { eventually } from "../../harness/eventually.ts";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { expectDestroyLeavesNothing, labStackFixture } from "./helpers.ts";
import { deletePod, getPod, isReady, kubeInventory } from "../../harness/kube.ts";
import { netnsOfPod } from "./kube.ts";

const workDir = join(repoRoot, "examples", "red-blue");
const stackConfigDir = join(repoRoot, ".state", "stacks", "red-blue");
const STEP = 180_000;
// 2 networks (VN + service + component), 3 VMs, 3 pods (k8s pod + attachments + component), the
// Kubernetes provider, the stack
const RESOURCES = 21;

const t = labStackFixture(workDir, stackConfigDir);

interface VmOut { name: string; ip: string; mac: string; host: string }
interface PodOut { name: string; node: string; eth0: string; interfaces: Array<{ service: string; interfaceName: string; ip: string; prefixLength: number; mac: string }> }

let vms: Record<"redVm1" | "redVm2" | "blueVm", VmOut>;
let pods: Record<"redPod" | "bluePod" | "bothPod", PodOut>;

const POD_NAMES = new Set(["red-pod", "blue-pod", "both-pod"]);
/** A VM (name or id) as the lab knows it, a pod through its netns annotation. */
const at = async (workload: string) => (POD_NAMES.has(workload) ? netnsOfPod(t.kube, workload) : workload);
const reaches = async (from: string, to: string) => (await t.lab.ping(await at(from), to, { count: 1, wait: 2 })).ok;
const inSubnet = (addr: string, prefix: string) => addr.startsWith(prefix);

/** The state a PodAttachment of `pod` holds after the last refresh or up ("UP" / "DOWN"). */
async function attachmentStates(pod: string): Promise<string[]> {
  const state = await t.e2e.stack.exportStack();
  return state.deployment.resources
    .filter((r: { type: string; outputs?: { pod?: string } }) => r.type === "pulumi-nodejs:dynamic/nsm:PodAttachment" && r.outputs?.pod === pod)
    .map((r: { outputs: { state: string } }) => r.outputs.state);
}

/** Refresh reports `pod`'s one attachment changed and DOWN; the next up updates it and it is UP again. */
async function refreshFindsAttachmentDownThenUpHealsIt(pod: string) {
  const refresh = await t.e2e.stack.refresh();
  expect(refresh.summary.resourceChanges).toEqual({ update: 1, same: RESOURCES - 1 });
  expect(await attachmentStates(pod)).toEqual(["DOWN"]);
  const up = await t.e2e.stack.up();
  expect(up.summary.resourceChanges).toEqual({ update: 1, same: RESOURCES - 1 });
  expect(await attachmentStates(pod)).toEqual(["UP"]);
  return up;
}

interface StoredResource { urn: string; type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }

/**
 * Each resource's inputs and outputs by URN, as the state holds them. The VM's admin password is
 * left out: a secret's ciphertext changes whenever the engine writes it again.
 */
function resourceStates(state: { deployment: { resources: StoredResource[] } }): Record<string, { inputs: Record<string, unknown>; outputs: Record<string, unknown> }> {
  return Object.fromEntries(
    state.deployment.resources.map((r) => {
      const { adminPass: _, ...outputs } = r.outputs ?? {};
      return [r.urn, { inputs: r.inputs ?? {}, outputs }];
    }),
  );
}

describe("examples/red-blue on the lab", () => {
  it("preview plans every resource and creates nothing", async () => {
    const preview = await t.e2e.stack.preview();
    expect(preview.changeSummary).toEqual({ create: RESOURCES });
    expect((await t.lab.status()).counts).toEqual({ virtualNetworks: 0, virtualMachines: 0, ports: 0, pods: 0, connections: 0 });
  }, STEP);

  it("up creates red and blue, three VMs and three pods with their NSM interfaces", async () => {
    const up = await t.e2e.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges).toEqual({ create: RESOURCES });
    vms = up.outputs.vms!.value;
    pods = up.outputs.pods!.value;
    expect(up.outputs.networks!.value).toMatchObject({ red: { fqName: "default-domain:admin:red" }, blue: { fqName: "default-domain:admin:blue" } });
    expect(inSubnet(vms.redVm1.ip, "10.1.1.")).toBe(true);
    expect(inSubnet(vms.redVm2.ip, "10.1.1.")).toBe(true);
    expect(inSubnet(vms.blueVm.ip, "10.2.2.")).toBe(true);
    expect(pods.redPod.interfaces.map((i) => [i.service, i.interfaceName])).toEqual([["red", "nsm-1"]]);
    expect(pods.bluePod.interfaces.map((i) => [i.service, i.interfaceName])).toEqual([["blue", "nsm-1"]]);
    expect(pods.bothPod.interfaces.map((i) => [i.service, i.interfaceName])).toEqual([["red", "nsm-1"], ["blue", "nsm-2"]]);
    expect((await t.lab.status()).counts).toMatchObject({ virtualNetworks: 2, virtualMachines: 3, connections: 4 });
    expect((await kubeInventory(t.kube)).pods).toEqual(["default/blue-pod", "default/both-pod", "default/red-pod"]);
  }, STEP);

  it("state holds no credential in plain text, the VM's admin password only as a secret, and small provider shims", async () => {
    const state = await t.e2e.stack.exportStack();
    const text = JSON.stringify(state);
    expect(text).not.toContain(t.lab.config.credentials.password);
    const vm = state.deployment.resources.find((r: { type: string; urn: string }) => r.type === "pulumi-nodejs:dynamic/openstack:VirtualMachine");
    expect(vm.outputs.adminPass).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" });
    for (const r of state.deployment.resources.filter((x: { type: string }) => x.type.startsWith("pulumi-nodejs:dynamic/"))) {
      expect(Buffer.byteLength(r.inputs.__provider)).toBeLessThan(4096);
    }
  }, STEP);

  it("red-pod keeps eth0 and gains nsm-1: red's address, the VMI's MAC, a route to red only", async () => {
    const nsm1 = pods.redPod.interfaces[0]!;
    const ns = await netnsOfPod(t.kube, "red-pod");
    const links = await ip.json<{ ifname: string; address: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>(["addr", "show"], ns);
    const kernel = links.find((l) => l.ifname === "nsm-1")!;
    expect(kernel.address).toBe(nsm1.mac);
    expect(kernel.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${nsm1.ip}/24`]);
    expect(links.find((l) => l.ifname === "eth0")!.addr_info.some((a) => a.local === pods.redPod.eth0)).toBe(true);
    const vmis = await t.api.tf.listDetail("virtual-machine-interface", { fields: ["virtual_machine_interface_mac_addresses"] });
    const macs = vmis.flatMap((v) => (v.virtual_machine_interface_mac_addresses as { mac_address: string[] } | undefined)?.mac_address ?? []);
    expect(macs).toContain(nsm1.mac);
    const routes = await ip.json<{ dst: string; dev: string }>(["route", "show"], ns);
    expect(routes).toContainEqual(expect.objectContaining({ dst: "10.1.1.0/24", dev: "nsm-1" }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: "default", dev: "eth0" }));
    expect(routes.some((r) => r.dst.startsWith("10.2.2."))).toBe(false);
  }, STEP);

  it("red VMs reach each other, red-pod reaches both red VMs and they reach it", async () => {
    expect(await reaches("red-vm-1", vms.redVm2.ip)).toBe(true);
    expect(await reaches("red-vm-2", vms.redVm1.ip)).toBe(true);
    const podIp = pods.redPod.interfaces[0]!.ip;
    for (const vm of [vms.redVm1, vms.redVm2]) {
      expect(await reaches("red-pod", vm.ip)).toBe(true);
      expect(await reaches(vm.name, podIp)).toBe(true);
    }
  }, STEP);

  it("blue-pod reaches the blue VM and nothing on red; the pod network still works", async () => {
    expect(await reaches("blue-pod", vms.blueVm.ip)).toBe(true);
    expect(await reaches("blue-vm", pods.bluePod.interfaces[0]!.ip)).toBe(true);
    expect(await reaches("blue-pod", vms.redVm1.ip)).toBe(false);
    expect(await reaches("blue-vm", pods.redPod.interfaces[0]!.ip)).toBe(false);
    expect(await reaches("blue-pod", pods.redPod.eth0)).toBe(true);
  }, STEP);

  it("both-pod reaches red and blue at once", async () => {
    expect(await reaches("both-pod", vms.redVm1.ip)).toBe(true);
    expect(await reaches("both-pod", vms.blueVm.ip)).toBe(true);
    expect(await reaches("blue-vm", pods.bothPod.interfaces[1]!.ip)).toBe(true);
  }, STEP);

  it("a second preview finds nothing to change", async () => {
    const preview = await t.e2e.stack.preview();
    expect(preview.changeSummary).toEqual({ same: RESOURCES });
  }, STEP);

  it("a second up changes nothing", async () => {
    const up = await t.e2e.stack.up();
    expect(up.summary.resourceChanges).toEqual({ same: RESOURCES });
    expect(up.outputs.vms!.value).toEqual(vms);
    expect(up.outputs.pods!.value).toEqual(pods);
  }, STEP);

  it("refresh of the unchanged stack reports every resource the same and leaves inputs and outputs as they were", async () => {
    const before = resourceStates(await t.e2e.stack.exportStack());
    const refresh = await t.e2e.stack.refresh();
    expect(refresh.summary.resourceChanges).toEqual({ same: RESOURCES });
    expect(resourceStates(await t.e2e.stack.exportStack())).toEqual(before);
  }, STEP);

  it("refresh shows a VM renamed through Nova as drift of its name alone, and the next up renames it back", async () => {
    const server = (await t.api.openstack.nova.listServers({ name: "red-vm-1" })).find((s) => s.name === "red-vm-1")!;
    await t.api.openstack.nova.renameServer(server.id, "red-vm-1-elsewhere");
    const stored = resourceStates(await t.e2e.stack.exportStack());
    const refresh = await t.e2e.stack.refresh();
    expect(refresh.summary.resourceChanges).toEqual({ update: 1, same: RESOURCES - 1 });
    const refreshed = resourceStates(await t.e2e.stack.exportStack());
    const urn = Object.keys(stored).find((u) => u.endsWith("VirtualMachine::red-vm-1"))!;
    expect(refreshed[urn]!.inputs).toEqual({ ...stored[urn]!.inputs, name: "red-vm-1-elsewhere" });
    const up = await t.e2e.stack.up();
    expect(up.summary.resourceChanges).toEqual({ update: 1, same: RESOURCES - 1 });
    expect((await t.api.openstack.nova.getServer(server.id))?.name).toBe("red-vm-1");
    expect(resourceStates(await t.e2e.stack.exportStack())).toEqual(stored);
  }, STEP);

  it("refresh shows a pod interface deleted in the kernel as drift and the next up rebuilds it", async () => {
    await t.lab.inLab(await at("red-pod"), ["ip", "link", "del", "nsm-1"]);
    expect(await reaches("red-pod", vms.redVm1.ip)).toBe(false);
    await refreshFindsAttachmentDownThenUpHealsIt("red-pod");
    expect(await reaches("red-pod", vms.redVm1.ip)).toBe(true);
    expect(await reaches("red-vm-1", pods.redPod.interfaces[0]!.ip)).toBe(true);
  }, STEP);

  it("refresh shows a pod attachment whose VMI was deleted through the TF API as drift and the next up reattaches it", async () => {
    const conn = (await t.api.nsm.listConnections()).find((c) => c.labels?.podName === "blue-pod")!;
    const vmiFq = ["default-domain", "admin", `nsm-${conn.id}`];
    const vmi = (await t.api.tf.readByFqName("virtual-machine-interface", vmiFq))!;
    // TF refuses to delete a VMI its instance-ip still refers to: the address goes first.
    for (const iip of (vmi.instance_ip_back_refs as TfRef[] | undefined) ?? []) await t.api.tf.delete("instance-ip", iip.uuid!);
    await t.api.tf.delete("virtual-machine-interface", vmi.uuid);
    // The vRouter learns of the deletion after TF answered it (as a real agent does, through its control node).
    await eventually(async () => !(await reaches("blue-pod", vms.blueVm.ip)), { what: "blue-pod to lose blue-vm once its VMI is deleted", timeoutMs: 20_000 });

    const up = await refreshFindsAttachmentDownThenUpHealsIt("blue-pod");
    const healed = (up.outputs.pods!.value as typeof pods).bluePod.interfaces[0]!;
    expect(await t.api.tf.lookupId("virtual-machine-interface", vmiFq)).toBeDefined();
    // The agent keeps a port until it is unplugged: the deleted VMI's port must not linger inactive.
    const agentPorts = (await t.lab.topology()).nodes.flatMap((n) => n.vrouterPorts ?? []);
    expect(agentPorts.map((p) => p.id)).not.toContain(vmi.uuid);
    expect(agentPorts.filter((p) => !p.active)).toEqual([]);
    expect(await reaches("blue-pod", vms.blueVm.ip)).toBe(true);
    expect(await reaches("blue-vm", healed.ip)).toBe(true);
    expect(await reaches("blue-pod", vms.redVm1.ip)).toBe(false);
  }, STEP);

  it("refresh notices a VM deleted outside Pulumi and the next up boots it again", async () => {
    const server = (await t.api.openstack.nova.listServers({ name: "red-vm-2" })).find((s) => s.name === "red-vm-2")!;
    await t.api.openstack.nova.deleteServer(server.id);
    await t.api.openstack.nova.waitForDeleted(server.id, { intervalMs: 200 });
    const refresh = await t.e2e.stack.refresh();
    expect(refresh.summary.resourceChanges).toMatchObject({ delete: 1 });
    const up = await t.e2e.stack.up();
    expect(up.summary.resourceChanges).toMatchObject({ create: 1 });
    const again = up.outputs.vms!.value.redVm2 as VmOut;
    expect(await reaches("red-pod", again.ip)).toBe(true);
  }, STEP);

  it("refresh shows a pod deleted through the API server (as kubectl does) as drift, and the next up brings it back attached: it pings its VM again", async () => {
    const old = (await getPod(t.kube, "red-pod"))!;
    await deletePod(t.kube, "red-pod");
    const refresh = await t.e2e.stack.refresh();
    expect(refresh.summary.result).toBe("succeeded");
    const stored = (await t.e2e.stack.exportStack()).deployment.resources as StoredResource[];
    expect(stored.filter((r) => r.type === "kubernetes:core/v1:Pod" && r.urn.endsWith("::red-pod"))).toEqual([]);
    // The attachment went with the pod's connection (the kubelet closes it), or shows its pod gone.
    expect(await attachmentStates("red-pod")).not.toContain("UP");

    const started = Date.now();
    const up = await t.e2e.stack.up();
    console.log(`red-pod re-created and attached by up in ${Date.now() - started} ms`);
    expect(up.summary.result).toBe("succeeded");
    const now = (await getPod(t.kube, "red-pod"))!;
    expect(isReady(now)).toBe(true);
    expect(now.metadata.uid).not.toBe(old.metadata.uid);
    expect(await attachmentStates("red-pod")).toEqual(["UP"]);
    const podUids = ((await t.e2e.stack.exportStack()).deployment.resources as StoredResource[])
      .filter((r) => r.type === "pulumi-nodejs:dynamic/nsm:PodAttachment" && r.outputs?.pod === "red-pod")
      .map((r) => r.outputs!.podUid);
    expect(podUids).toEqual([now.metadata.uid]);
    const nsm1 = (up.outputs.pods!.value as typeof pods).redPod.interfaces[0]!;
    expect(await reaches("red-pod", vms.redVm1.ip)).toBe(true);
    expect(await reaches("red-vm-1", nsm1.ip)).toBe(true);
    expect((await t.e2e.stack.preview()).changeSummary).toEqual({ same: RESOURCES });
  }, STEP);

  it("destroy leaves no TF object, server, port, registry entry, connection, Kubernetes pod, namespace or interface", async () => {
    await expectDestroyLeavesNothing(t, RESOURCES);
  }, STEP);
});
