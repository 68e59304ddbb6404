// Changing a running stack the way a user does (test/e2e/programs/lifecycle, one private lab): a
// VM is renamed in place and moved from red to blue, an attachment is added to and removed from a
// running pod without touching the pod, and destroy leaves exactly what was there before.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as ip from "../../lib/kernel/ip.ts";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { expectDestroyLeavesNothing, labStackFixture } from "./helpers.ts";
import { netnsOfPod } from "./kube.ts";

const workDir = join(repoRoot, "test", "e2e", "programs", "lifecycle");
const stackConfigDir = join(repoRoot, ".state", "stacks", "e2e-lifecycle");
const STEP = 180_000;
// red and blue (component + VN + service each), app-vm, app-pod and blue-pod (component + k8s pod
// + one attachment each), the Kubernetes provider, the stack
const RESOURCES = 15;

const t = labStackFixture(workDir, stackConfigDir);

interface PodInterface { service: string; interfaceName: string; ip: string; prefixLength: number; mac: string }
interface PodOut { name: string; uid: string; netns: string; interfaces: PodInterface[]; connectionIds: string[] }
interface VmOut { id: string; name: string; ip: string; network: string }
interface Outputs { appVm: VmOut; pods: { appPod: PodOut; bluePod: PodOut } }

let last: Outputs;

/** A VM (name or id) as the lab knows it, a pod through its netns annotation. */
const at = async (workload: string) => (workload.endsWith("-pod") ? netnsOfPod(t.kube, workload) : workload);
const reaches = async (from: string, to: string) => (await t.lab.ping(await at(from), to, { count: 1, wait: 2 })).ok;

async function up(config: Record<string, string> = {}) {
  for (const [k, v] of Object.entries(config)) await t.e2e.stack.setConfig(`lifecycle:${k}`, { value: v });
  const result = await t.e2e.stack.up();
  expect(result.summary.result).toBe("succeeded");
  last = { appVm: result.outputs.appVm!.value, pods: result.outputs.pods!.value };
  return result.summary.resourceChanges;
}

async function podLinks(pod: string) {
  return ip.json<{ ifname: string; address: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>(["addr", "show"], await netnsOfPod(t.kube, pod));
}

/** The TF objects the tungsten forwarder made for a connection (docs/contracts.md: named nsm-<id>). */
async function tfObjectsOf(connectionId: string) {
  const name = `nsm-${connectionId}`;
  return {
    vm: await t.api.tf.lookupId("virtual-machine", [name]),
    vmi: await t.api.tf.lookupId("virtual-machine-interface", ["default-domain", "admin", name]),
    iip: await t.api.tf.lookupId("instance-ip", [name]),
  };
}

describe("changing a running stack", () => {
  it("up builds red, blue, app-vm on red, app-pod on red and blue-pod on blue", async () => {
    expect(await up()).toEqual({ create: RESOURCES });
    expect(last.appVm).toMatchObject({ name: "app-vm", network: "red", ip: expect.stringMatching(/^10\.1\.1\./) });
    expect(last.pods.appPod.interfaces.map((i) => [i.service, i.interfaceName])).toEqual([["red", "nsm-1"]]);
    expect(await reaches(last.appVm.id, last.pods.appPod.interfaces[0]!.ip)).toBe(true);
  }, STEP);

  // The VM changes come first: moving it frees its red address, which a later attachment may get
  // (with another MAC: peers learn it from gratuitous ARP, docs/contracts.md).
  it("renaming the VM updates it in place: same server, new name in Nova, TF and the lab", async () => {
    const vm = last.appVm;
    expect(await up({ vmName: "app-vm-renamed" })).toEqual({ update: 1, same: RESOURCES - 1 });
    expect(last.appVm).toEqual({ ...vm, name: "app-vm-renamed" });
    expect((await t.api.openstack.nova.getServer(vm.id))?.name).toBe("app-vm-renamed");
    expect((await t.api.tf.read("virtual-machine", vm.id)).display_name).toBe("app-vm-renamed");
    expect(await t.lab.netnsOf("app-vm-renamed")).toBe(await t.lab.netnsOf(vm.id));
    expect(await reaches("app-vm-renamed", last.pods.appPod.interfaces[0]!.ip)).toBe(true);
  }, STEP);

  it("moving the VM from red to blue replaces it: an address in blue, reaches blue-pod and nothing on red", async () => {
    const old = last.appVm;
    expect(await up({ vmNetwork: "blue" })).toEqual({ replace: 1, same: RESOURCES - 1 });
    const vm = last.appVm;
    expect(vm).toMatchObject({ name: "app-vm-renamed", network: "blue", ip: expect.stringMatching(/^10\.2\.2\./) });
    expect(vm.id).not.toBe(old.id);
    expect((await t.api.openstack.nova.listServers()).map((s) => s.id)).toEqual([vm.id]);
    expect(await reaches(vm.id, last.pods.bluePod.interfaces[0]!.ip)).toBe(true);
    expect(await reaches("blue-pod", vm.ip)).toBe(true);
    expect(await reaches(vm.id, last.pods.appPod.interfaces[0]!.ip)).toBe(false);
    expect(await reaches("app-pod", vm.ip)).toBe(false);
  }, STEP);

  it("adding an attachment to a running pod creates only the attachment: same pod, nsm-2 on blue appears", async () => {
    const pod = last.pods.appPod;
    expect(await up({ podNetworks: "red,blue" })).toEqual({ create: 1, same: RESOURCES });
    const now = last.pods.appPod;
    expect({ uid: now.uid, netns: now.netns }).toEqual({ uid: pod.uid, netns: pod.netns });
    expect(now.interfaces.map((i) => [i.service, i.interfaceName])).toEqual([["red", "nsm-1"], ["blue", "nsm-2"]]);
    const nsm2 = now.interfaces[1]!;
    expect(nsm2.ip).toMatch(/^10\.2\.2\./);
    const kernel = (await podLinks("app-pod")).find((l) => l.ifname === "nsm-2");
    expect(kernel?.address).toBe(nsm2.mac);
    expect(kernel?.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${nsm2.ip}/24`]);
    expect(await reaches("app-pod", last.pods.bluePod.interfaces[0]!.ip)).toBe(true);
    expect(await reaches("app-pod", last.appVm.ip)).toBe(true);
  }, STEP);

  it("removing it deletes only the attachment: same pod, nsm-2 and its TF objects and connection are gone", async () => {
    const pod = last.pods.appPod;
    const removed = pod.connectionIds[1]!;
    expect(Object.values(await tfObjectsOf(removed)).every((uuid) => uuid !== undefined)).toBe(true);
    expect(await up({ podNetworks: "red" })).toEqual({ delete: 1, same: RESOURCES });
    const now = last.pods.appPod;
    expect({ uid: now.uid, netns: now.netns }).toEqual({ uid: pod.uid, netns: pod.netns });
    expect(now.interfaces.map((i) => [i.service, i.interfaceName])).toEqual([["red", "nsm-1"]]);
    expect((await podLinks("app-pod")).map((l) => l.ifname).sort()).toEqual(["eth0", "lo", "nsm-1"]);
    expect(await tfObjectsOf(removed)).toEqual({ vm: undefined, vmi: undefined, iip: undefined });
    expect(await t.api.nsm.getConnection(removed)).toBeUndefined();
    expect(await reaches("app-pod", last.pods.bluePod.interfaces[0]!.ip)).toBe(false);
    expect(await reaches("app-pod", last.appVm.ip)).toBe(false);
    expect(await reaches("app-pod", "10.1.1.254")).toBe(true);
  }, STEP);

  it("destroy leaves exactly what the lab had before the stack", async () => {
    await expectDestroyLeavesNothing(t, RESOURCES);
  }, STEP);
});
