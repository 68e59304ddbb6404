// The lab data plane end to end in real namespaces: VMs on VNs across compute nodes, pods on the
// pod network and attached to VNs like the NSM TF forwarder does it, VN isolation, the distributed
// gateway, reconcile after damage, and destroy.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteLink, ip, listLinks, netns, ping, showLink } from "../../lib/kernel/index.ts";
import { nodeNetns, vnBridge, vnVxlan } from "../../lab/dataplane/names.ts";
import { tapName } from "../../wire/vrouterAgent.ts";
import { readSnapshot } from "../../lab/dataplane/snapshot.ts";
import { entryStateOfSnapshot, planEntries } from "../../lab/dataplane/vnEntries.ts";
import { planPlumbing } from "../../lab/dataplane/vnPlumbing.ts";
import type { VmPort } from "../../lab/dataplane/types.ts";
import { eventually } from "../../harness/eventually.ts";
import { agentRequest, attachPod, createTestLab, isolated, podNs, portBody, reaches, startAgents, vmNs } from "./dataplane-fixture.ts";
import type { FakeVn, TestLab } from "./dataplane-fixture.ts";

let lab: TestLab;

let red: FakeVn;
let blue: FakeVn;
const vm = {
  red1: { id: randomUUID(), node: "c1", ip: "10.1.1.3" },
  red2: { id: randomUUID(), node: "c1", ip: "10.1.1.4" },
  red3: { id: randomUUID(), node: "c2", ip: "10.1.1.5" },
  blue1: { id: randomUUID(), node: "c1", ip: "10.2.2.3" },
  blue2: { id: randomUUID(), node: "c2", ip: "10.2.2.4" },
};
const ports = new Map<string, VmPort>();
let podA: { ip: string };
let podB: { ip: string };
let podRedPort: VmPort;

beforeAll(async () => {
  lab = await createTestLab();
  await lab.dp.start();
  await startAgents(lab);
  red = lab.config.addVn("red", 5, "10.1.1.0/24");
  blue = lab.config.addVn("blue", 6, "10.2.2.0/24");
  for (const [name, v] of Object.entries(vm)) {
    const port = lab.config.addVmi(name.startsWith("red") ? red : blue, v.ip);
    ports.set(name, port);
    await lab.dp.vmRuntime.bootVm({ serverId: v.id, name, node: v.node, ports: [port] });
  }
  podA = (await lab.dp.podRuntime.createPod({ name: "pod-a", uid: randomUUID(), node: "k1" })).eth0;
  podB = (await lab.dp.podRuntime.createPod({ name: "pod-b", uid: randomUUID(), node: "k2" })).eth0;
  podRedPort = lab.config.addVmi(red, "10.1.1.10");
  const res = await attachPod(lab, "pod-a", "k1", podRedPort);
  expect(res).toEqual({ status: 200, body: {} });
}, 60_000);

afterAll(async () => {
  await lab?.destroy();
  expect(netns.list(`${lab.prefix}-`)).toEqual([]);
});

describe("VMs on a VN", () => {
  it("reach each other on the same compute node", async () => {
    expect(await reaches(vmNs(lab, vm.red1.id), vm.red2.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.red2.id), vm.red1.ip)).toBe(true);
  });

  it("reach each other across compute nodes over VXLAN", async () => {
    expect(await reaches(vmNs(lab, vm.red1.id), vm.red3.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.red3.id), vm.red2.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.blue2.id), vm.blue1.ip)).toBe(true);
  });

  it("carry full-size 1500-byte packets across nodes without fragmenting", async () => {
    const res = await ping(vmNs(lab, vm.red1.id), vm.red3.ip, { count: 2, interval: 0.2, size: 1472, dontFragment: true });
    expect(res.ok).toBe(true);
  });

  it("have eth0 with the port MAC, address and a default route via the gateway", async () => {
    const port = ports.get("red3")!;
    const eth0 = await showLink("eth0", vmNs(lab, vm.red3.id));
    expect(eth0?.address).toBe(port.mac);
    const routes = await ip.json<{ dst: string; gateway?: string }>(["route", "show"], vmNs(lab, vm.red3.id));
    expect(routes).toContainEqual(expect.objectContaining({ dst: "default", gateway: "10.1.1.254" }));
  });

  it("find the gateway on every node hosting the VN", async () => {
    expect(await reaches(vmNs(lab, vm.red1.id), red.gateway)).toBe(true);
    expect(await reaches(vmNs(lab, vm.red3.id), red.gateway)).toBe(true);
    expect(await reaches(podNs(lab, "pod-a"), red.gateway)).toBe(true);
    expect(await reaches(vmNs(lab, vm.blue2.id), blue.gateway)).toBe(true);
  });
});

describe("isolation between VNs", () => {
  it("no VM reaches another VN's endpoints, on the same node or across", async () => {
    expect(await isolated(vmNs(lab, vm.blue1.id), vm.red1.ip)).toBe(true); // same node c1
    expect(await isolated(vmNs(lab, vm.blue1.id), vm.red3.ip)).toBe(true);
    expect(await isolated(vmNs(lab, vm.red3.id), vm.blue2.ip)).toBe(true); // same node c2
  });

  it("not even the other VN's gateway, nor the node's underlay address", async () => {
    expect(await isolated(vmNs(lab, vm.red1.id), blue.gateway)).toBe(true);
    expect(await isolated(vmNs(lab, vm.blue1.id), red.gateway)).toBe(true);
    expect(await isolated(vmNs(lab, vm.red1.id), "172.31.0.10")).toBe(true);
  });

  it("holds even when a VM puts the other VN's subnet on-link", async () => {
    const ns = vmNs(lab, vm.red1.id);
    await ip.batch([["route", "replace", "10.2.2.0/24", "dev", "eth0"]], ns);
    try {
      expect(await isolated(ns, vm.blue1.ip)).toBe(true);
      expect(await isolated(ns, blue.gateway)).toBe(true);
    } finally {
      await ip.batch([["route", "del", "10.2.2.0/24", "dev", "eth0"]], ns);
    }
  });

  it("a pod attached to red does not reach blue", async () => {
    expect(await isolated(podNs(lab, "pod-a"), vm.blue1.ip)).toBe(true);
  });
});

describe("pods", () => {
  it("get eth0 on the pod network and reach each other across k8s nodes", async () => {
    expect(podA.ip).toBe("10.244.1.2");
    expect(podB.ip).toBe("10.244.2.2");
    expect(await reaches(podNs(lab, "pod-a"), podB.ip)).toBe(true);
    expect(await reaches(podNs(lab, "pod-b"), podA.ip)).toBe(true);
  });

  it("an attached pod reaches VMs of its VN on other nodes, and they reach it", async () => {
    expect(await reaches(podNs(lab, "pod-a"), vm.red1.ip)).toBe(true);
    expect(await reaches(podNs(lab, "pod-a"), vm.red3.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.red1.id), podRedPort.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.red3.id), podRedPort.ip)).toBe(true);
  });

  it("keeps its pod network working next to the VN interface", async () => {
    expect(await reaches(podNs(lab, "pod-a"), podB.ip)).toBe(true);
    const routes = await ip.json<{ dst: string; gateway?: string; dev?: string }>(["route", "show"], podNs(lab, "pod-a"));
    expect(routes).toContainEqual(expect.objectContaining({ dst: "default", gateway: "10.244.1.1", dev: "eth0" }));
  });
});

describe("agent port API", () => {
  it("answers GET /port with the live config", async () => {
    const res = await agentRequest(lab, "k1", "GET", `/port/${podRedPort.vmiUuid}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: podRedPort.vmiUuid, "ip-address": "10.1.1.10", plen: 24, gateway: "10.1.1.254", "dns-server": "10.1.1.253" });
    expect(await agentRequest(lab, "k1", "GET", `/port/${randomUUID()}`)).toEqual({ status: 404, body: { error: "{ Not Found }" } });
    // Another node's agent does not have the port.
    expect((await agentRequest(lab, "k2", "GET", `/port/${podRedPort.vmiUuid}`)).status).toBe(404);
  });

  it("refuses a bad MAC, a missing vn-id for a VM port and a missing interface, with the agent's error shape", async () => {
    const port = lab.config.addVmi(red, "10.1.1.20");
    const badMac = await agentRequest(lab, "k1", "POST", "/port", { ...portBody(port, randomUUID()), "mac-address": "zz:00" });
    expect(badMac.status).toBe(500);
    expect((badMac.body as { error: string }).error).toMatch(/^\{ .*mac-address.* \}$/);
    const noVn = await agentRequest(lab, "k1", "POST", "/port", { ...portBody(port, randomUUID(), undefined, 0), "vn-id": "" });
    expect((noVn.body as { error: string }).error).toMatch(/vn-id/);
    const noTap = await agentRequest(lab, "k1", "POST", "/port", portBody(port, randomUUID()));
    expect(noTap.status).toBe(500);
    expect((noTap.body as { error: string }).error).toMatch(/does not exist/);
  });

  it("plugs an array all or nothing", async () => {
    const good = lab.config.addVmi(red, "10.1.1.21");
    const bad = lab.config.addVmi(red, "10.1.1.22");
    await ip.batch([["link", "add", tapName(good.vmiUuid), "type", "veth", "peer", "name", "peer21"]], nodeNetns(lab.prefix, "k2"));
    const res = await agentRequest(lab, "k2", "POST", "/port", [portBody(good, randomUUID()), portBody(bad, randomUUID())]);
    expect(res.status).toBe(500);
    expect((await agentRequest(lab, "k2", "GET", `/port/${good.vmiUuid}`)).status).toBe(404);
    await deleteLink(tapName(good.vmiUuid), nodeNetns(lab.prefix, "k2"));
  });

  it("a port plugged before its config exists becomes active when the config arrives", async () => {
    const ns = podNs(lab, "pod-b");
    const uuid = randomUUID();
    const late: VmPort = { vmiUuid: uuid, vnUuid: red.uuid, networkId: red.networkId, mac: "02:12:34:56:78:9a", ip: "10.1.1.30", prefixLength: 24, gateway: red.gateway };
    // The agent accepts the port, but GET says 404 until the VMI exists.
    const res = await attachPod(lab, "pod-b", "k2", late);
    expect(res.status).toBe(200);
    expect((await agentRequest(lab, "k2", "GET", `/port/${uuid}`)).status).toBe(404);
    expect(await isolated(ns, vm.red1.ip)).toBe(true);
    lab.config.vmis.set(uuid, { vnUuid: red.uuid, mac: late.mac, ip: late.ip });
    lab.config.addVn("unrelated", 99, "10.99.0.0/24"); // a config change wakes the agents
    expect(await eventually(async () => (await agentRequest(lab, "k2", "GET", `/port/${uuid}`)).status === 200, { what: `the late port ${uuid} to become active on k2` })).toBe(true);
    await lab.dp.agents.refresh(); // queued behind the refresh the change started, so that one has finished
    expect(await reaches(ns, vm.red1.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.red3.id), late.ip)).toBe(true);
  });

  it("DELETE /port withdraws the endpoint everywhere and is fine for unknown ports", async () => {
    const uuid = [...lab.config.vmis.entries()].find(([, v]) => v.ip === "10.1.1.30")![0];
    expect(await agentRequest(lab, "k2", "DELETE", `/port/${uuid}`)).toEqual({ status: 200, body: {} });
    expect(await agentRequest(lab, "k2", "DELETE", `/port/${uuid}`)).toEqual({ status: 200, body: {} });
    expect(await isolated(vmNs(lab, vm.red1.id), "10.1.1.30")).toBe(true);
    const neigh = await ip.json<{ dst: string }>(["neigh", "show", "dev", vnBridge(red.networkId)], nodeNetns(lab.prefix, "c1"));
    expect(neigh.map((n) => n.dst)).not.toContain("10.1.1.30");
    // k2 had only that red port: its red bridge is gone.
    expect(await showLink(vnBridge(red.networkId), nodeNetns(lab.prefix, "k2"))).toBeUndefined();
  });
});

describe("describe()", () => {
  it("shows nodes, VN bridges with gateways and ports, the agent's port table, VMs and pods with their interfaces", async () => {
    const d = await lab.dp.describe();
    const c1 = d.nodes.find((n) => n.name === "c1")!;
    expect(c1).toMatchObject({ kind: "compute", underlayIp: "172.31.0.10", netns: nodeNetns(lab.prefix, "c1") });
    const redOnC1 = c1.networks.find((n) => n.networkId === red.networkId)!;
    expect(redOnC1).toMatchObject({ vnUuid: red.uuid, fqName: "default-domain:admin:red", bridge: "vn5", vxlan: "vx5", gateways: ["10.1.1.254/24"] });
    expect(redOnC1.ports.sort()).toEqual([tapName(ports.get("red1")!.vmiUuid), tapName(ports.get("red2")!.vmiUuid)].sort());
    for (const name of ["red1", "red2"]) {
      const vmi = ports.get(name)!.vmiUuid;
      expect(c1.vrouterPorts).toContainEqual({ id: vmi, systemName: tapName(vmi), active: true });
    }
    expect(c1.vms.find((v) => v.serverId === vm.red1.id)?.interfaces).toEqual([
      { name: "eth0", mac: ports.get("red1")!.mac, addresses: ["10.1.1.3/24"], network: "default-domain:admin:red", networkId: 5 },
    ]);
    const k1 = d.nodes.find((n) => n.name === "k1")!;
    const podAIfaces = k1.pods.find((p) => p.name === "pod-a")!.interfaces;
    expect(podAIfaces).toContainEqual(expect.objectContaining({ name: "eth0", network: "pod", addresses: ["10.244.1.2/16"] }));
    expect(podAIfaces).toContainEqual(expect.objectContaining({ name: "nsm-1", network: "default-domain:admin:red", addresses: ["10.1.1.10/24"] }));
  });
});

describe("reconcile", () => {
  it("re-creates a VM namespace deleted by hand", async () => {
    await netns.del(vmNs(lab, vm.red3.id));
    await lab.dp.start();
    expect(await reaches(vmNs(lab, vm.red3.id), vm.red1.ip)).toBe(true);
    expect(await reaches(podNs(lab, "pod-a"), vm.red3.ip)).toBe(true);
  });

  it("re-creates a VXLAN and a tap link deleted by hand", async () => {
    await deleteLink(vnVxlan(red.networkId), nodeNetns(lab.prefix, "c2"));
    await deleteLink(tapName(ports.get("red1")!.vmiUuid), nodeNetns(lab.prefix, "c1"));
    await lab.dp.start();
    expect(await reaches(vmNs(lab, vm.red1.id), vm.red3.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.red1.id), red.gateway)).toBe(true);
  });

  it("rebuilds a whole compute node deleted by hand", async () => {
    await netns.del(nodeNetns(lab.prefix, "c2"));
    await lab.dp.start();
    expect(await reaches(vmNs(lab, vm.red3.id), vm.red1.ip)).toBe(true);
    expect(await reaches(vmNs(lab, vm.blue2.id), vm.blue1.ip)).toBe(true);
    expect(await reaches(podNs(lab, "pod-a"), vm.red3.ip)).toBe(true);
  });

  it("rebuilds the underlay switch deleted by hand", async () => {
    await netns.del(`${lab.prefix}-underlay`);
    await lab.dp.start();
    expect(await reaches(vmNs(lab, vm.red1.id), vm.red3.ip)).toBe(true);
    expect(await reaches(podNs(lab, "pod-a"), podB.ip)).toBe(true);
  });

  it("removes namespaces of the instance that the state does not know", async () => {
    const orphan = `${lab.prefix}-vm-deadbeef`;
    await netns.add(orphan);
    await lab.dp.start();
    expect(netns.exists(orphan)).toBe(false);
  });

  it("changes nothing when everything is in place", async () => {
    const before = await listLinks(nodeNetns(lab.prefix, "c1"));
    const vmBefore = await showLink("eth0", vmNs(lab, vm.red1.id));
    await lab.dp.start();
    expect(await listLinks(nodeNetns(lab.prefix, "c1"))).toEqual(before);
    expect((await showLink("eth0", vmNs(lab, vm.red1.id)))?.ifindex).toBe(vmBefore?.ifindex);
  });

  it("plans no kernel change for a node that matches the port table", async () => {
    for (const node of ["c1", "c2", "k1"]) {
      const snap = await readSnapshot(nodeNetns(lab.prefix, node), { rules: true, routes: true, neigh: true, fdb: true });
      const wanted = lab.dp.agents.control.wantedOn(node);
      expect(wanted.length).toBeGreaterThan(0);
      expect(planPlumbing(snap, `172.31.0.${10 + ["c1", "c2", "k1"].indexOf(node)}`, wanted)).toEqual({ ip: [], bridge: [], createdBridges: [], createdVxlans: [] });
      expect(planEntries((id) => entryStateOfSnapshot(snap, id), wanted)).toEqual({ ip: [], bridge: [] });
    }
  });

  it("keeps plugged ports across a restart of the agents", async () => {
    await lab.restart();
    expect((await agentRequest(lab, "k1", "GET", `/port/${podRedPort.vmiUuid}`)).status).toBe(200);
    expect(await reaches(podNs(lab, "pod-a"), vm.red3.ip)).toBe(true);
  });
});

describe("teardown", () => {
  it("deleteVm removes the VM and its routes everywhere, and is idempotent", async () => {
    await lab.dp.vmRuntime.deleteVm(vm.red2.id);
    await lab.dp.vmRuntime.deleteVm(vm.red2.id);
    expect(netns.exists(vmNs(lab, vm.red2.id))).toBe(false);
    expect(await showLink(tapName(ports.get("red2")!.vmiUuid), nodeNetns(lab.prefix, "c1"))).toBeUndefined();
    const fdb = await ip.json<{ dst: string }>(["neigh", "show", "dev", vnBridge(red.networkId)], nodeNetns(lab.prefix, "c2"));
    expect(fdb.map((n) => n.dst)).not.toContain(vm.red2.ip);
    expect(await reaches(vmNs(lab, vm.red3.id), vm.red1.ip)).toBe(true);
  });

  it("deletePod removes the pod namespace and its host interface, and is idempotent", async () => {
    await lab.dp.podRuntime.deletePod("pod-b");
    await lab.dp.podRuntime.deletePod("pod-b");
    expect(netns.exists(podNs(lab, "pod-b"))).toBe(false);
    expect((await listLinks(nodeNetns(lab.prefix, "k2"))).filter((l) => l.ifname.startsWith("veth"))).toEqual([]);
  });

  it("deleting a pod whose attachment was never closed withdraws that endpoint", async () => {
    await lab.dp.podRuntime.deletePod("pod-a");
    expect(await showLink(tapName(podRedPort.vmiUuid), nodeNetns(lab.prefix, "k1"))).toBeUndefined();
    const neigh = await ip.json<{ dst: string }>(["neigh", "show", "dev", vnBridge(red.networkId)], nodeNetns(lab.prefix, "c1"));
    expect(neigh.map((n) => n.dst)).not.toContain(podRedPort.ip);
  });

  it("destroy leaves no namespace of the instance", async () => {
    await lab.dp.destroy();
    expect(netns.list(`${lab.prefix}-`)).toEqual([]);
  });
});
