// NSM in a running lab: pods attached to TF virtual networks through the tungsten forwarder really
// reach each other across nodes, VNs stay isolated, the kernel forwarder works beside it, a restart
// heals lost interfaces, and closing (or deleting the pod) leaves no TF object, port or interface.
// Driven through NSM's gRPC API (the lab's nsmGrpc endpoint), as an NSM client speaks it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ip from "../../lib/kernel/ip.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { problemOf } from "../../wire/nsm/protoMapping.ts";
import { labPod } from "../../harness/kube.ts";
import type { LabPod } from "../../harness/kube.ts";
import { TfClient } from "../../wire/tf.ts";
import { VrouterAgentClient } from "../../wire/vrouterAgent.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

let lab: TestLab;
let prefix = "";
let nsm: NsmGrpcClient;
let tf: TfClient;
const pod: Record<string, LabPod> = {};

async function network(name: string, cidr: string) {
  const [prefixAddr, len] = cidr.split("/");
  const ipam = ["default-domain", "admin", `ipam-${name}`];
  if (!(await tf.lookupId("network-ipam", ipam))) await tf.create("network-ipam", { fq_name: ipam, parent_type: "project" });
  await tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", name],
    parent_type: "project",
    network_ipam_refs: [{ to: ipam, attr: { ipam_subnets: [{ subnet: { ip_prefix: prefixAddr, ip_prefix_len: Number(len) } }] } }],
  });
}

function attach(id: string, p: LabPod, service: string, name?: string): NetworkServiceRequest {
  return {
    connection: { id, network_service: service, labels: { nodeName: p.node, podName: p.name } },
    mechanism_preferences: [
      { cls: "LOCAL", type: "KERNEL", parameters: { netnsName: p.netns, inodeURL: `file:///var/run/netns/${p.netns}`, ...(name ? { name } : {}) } },
    ],
  };
}

const addressOf = (c: Connection) => c.context!.ip_context!.src_ip_addrs![0]!.split("/")[0]!;
const links = async (ns: string) => (await ip.json<{ ifname: string }>(["link", "show"], ns)).map((l) => l.ifname).filter((n) => n !== "lo");
const reach = async (from: LabPod, to: string) => (await lab.ping(from.netns, to, { count: 1, wait: 2 })).ok;

beforeAll(async () => {
  lab = await startLab({ kubernetes: true });
  prefix = lab.prefix;
  const headers = await lab.authHeaders();
  tf = new TfClient({ baseUrl: lab.endpoints.tf, token: () => headers["x-auth-token"] });
  nsm = new NsmGrpcClient(lab.endpoints.nsmGrpc, { retries: 3, spiffe: lab.endpoints.spiffe });
  await network("red", "10.1.1.0/24");
  await network("blue", "10.2.2.0/24");
  await nsm.upsertNetworkService({ name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } });
  await nsm.upsertNetworkService({ name: "blue", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:blue" } });
  await nsm.upsertNetworkService({ name: "local", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } });
  for (const [name, node] of [["red-pod", "k8s-1"], ["red-far", "k8s-2"], ["blue-pod", "k8s-1"], ["both", "k8s-2"]] as const) {
    pod[name] = labPod(await lab.createPod(name, { node }));
  }
}, LAB_TIMEOUT);

afterAll(async () => {
  nsm?.dispose();
  await lab?.stop();
  if (prefix) expect(netns.list(`${prefix}-`)).toEqual([]);
}, LAB_TIMEOUT);

describe("NSM in the lab", () => {
  const conns: Record<string, Connection> = {};

  it("registers the tungsten and kernel forwarders of every k8s node", async () => {
    const names = (await nsm.listEndpoints("forwarder")).map((e) => e.name).sort();
    expect(names).toEqual(["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"]);
  });

  it("attaches pods on two nodes to red; they reach each other and the gateway, and keep their own eth0", async () => {
    conns.red = await nsm.request(attach("red-1", pod["red-pod"]!, "red"));
    conns.far = await nsm.request(attach("red-2", pod["red-far"]!, "red"));
    expect(conns.red.state).toBe("UP");
    expect(conns.red.mechanism?.parameters?.name).toBe("nsm-1");
    expect(addressOf(conns.red)).toMatch(/^10\.1\.1\./);
    expect(await reach(pod["red-pod"]!, addressOf(conns.far))).toBe(true);
    expect(await reach(pod["red-far"]!, addressOf(conns.red))).toBe(true);
    expect(await reach(pod["red-pod"]!, "10.1.1.254")).toBe(true);
    expect(await reach(pod["red-pod"]!, pod["red-far"]!.ip)).toBe(true);
    const agent = new VrouterAgentClient({ baseUrl: lab.endpoints.agents["k8s-1"]! });
    const vmi = await tf.lookupId("virtual-machine-interface", ["default-domain", "admin", "nsm-red-1"]);
    expect(await agent.getPort(vmi!)).toMatchObject({ "ip-address": addressOf(conns.red), plen: 24 });
  });

  it("keeps VNs apart: a blue pod reaches blue, not red; a pod on both reaches both", async () => {
    conns.blue = await nsm.request(attach("blue-1", pod["blue-pod"]!, "blue"));
    conns.bothRed = await nsm.request(attach("both-red", pod["both"]!, "red"));
    conns.bothBlue = await nsm.request(attach("both-blue", pod["both"]!, "blue"));
    expect(conns.bothBlue.mechanism?.parameters?.name).toBe("nsm-2");
    expect(await reach(pod["blue-pod"]!, addressOf(conns.bothBlue))).toBe(true);
    expect(await reach(pod["blue-pod"]!, addressOf(conns.red!))).toBe(false);
    expect(await reach(pod["both"]!, addressOf(conns.red!))).toBe(true);
    expect(await reach(pod["both"]!, addressOf(conns.blue!))).toBe(true);
  });

  it("answers a connection with the state its forwarder finds: DOWN once TF lost its VMI (the vRouter drops the port), UP after a repeated request", async () => {
    expect((await nsm.getConnection("blue-1"))?.state).toBe("UP");
    const vmi = (await tf.readByFqName("virtual-machine-interface", ["default-domain", "admin", "nsm-blue-1"]))!;
    for (const iip of (vmi.instance_ip_back_refs as Array<{ uuid: string }> | undefined) ?? []) await tf.delete("instance-ip", iip.uuid);
    await tf.delete("virtual-machine-interface", vmi.uuid);
    const down = await nsm.getConnection("blue-1");
    expect(down?.state).toBe("DOWN");
    expect(problemOf(down!), "the monitor says why, in the manager's path segment").toMatch(/^the vRouter agent of k8s-1 does not carry /);
    conns.blue = await nsm.request(attach("blue-1", pod["blue-pod"]!, "blue"));
    const up = await nsm.getConnection("blue-1");
    expect([up?.state, problemOf(up!)]).toEqual(["UP", undefined]);
    expect(await reach(pod["blue-pod"]!, addressOf(conns.bothBlue!))).toBe(true);
  });

  it("runs the kernel forwarder beside it: two pods of one node meet on a local bridge", async () => {
    const a = await nsm.request(attach("local-1", pod["red-pod"]!, "local"));
    const b = await nsm.request(attach("local-2", pod["blue-pod"]!, "local"));
    expect(await reach(pod["red-pod"]!, addressOf(b))).toBe(true);
    expect(await reach(pod["blue-pod"]!, addressOf(a))).toBe(true);
  });

  it("a repeated request heals the connection instead of adding an interface", async () => {
    const again = await nsm.request(attach("red-1", pod["red-pod"]!, "red"));
    expect(addressOf(again)).toBe(addressOf(conns.red!));
    expect(await links(pod["red-pod"]!.netns)).toEqual(["eth0", "nsm-1", "nsm-2"]);
  });

  it("heals after a restart: an interface deleted while the daemon was down comes back and works", async () => {
    await lab.restart(async () => {
      await netns.exec(pod["red-pod"]!.netns, ["ip", "link", "del", "dev", "nsm-1"]);
    });
    expect(await links(pod["red-pod"]!.netns)).toContain("nsm-1");
    expect(await reach(pod["red-pod"]!, addressOf(conns.far!))).toBe(true);
  });

  it("a pod interface that comes back with the same address and a new MAC is reached at once, on its node and across", async () => {
    const before = conns.bothRed!;
    const address = addressOf(before);
    // red-far shares the node of "both", red-pod is on the other one; both talked to the old interface.
    for (const peer of [pod["red-far"]!, pod["red-pod"]!]) expect(await reach(peer, address)).toBe(true);
    await nsm.close({ id: "both-red" });
    conns.bothRed = await nsm.request(attach("both-red-again", pod["both"]!, "red"));
    expect(addressOf(conns.bothRed)).toBe(address);
    const mac = conns.bothRed.context!.ethernet_context!.src_mac!;
    expect(mac).not.toBe(before.context!.ethernet_context!.src_mac);
    for (const peer of [pod["red-far"]!, pod["red-pod"]!]) {
      expect(await reach(peer, address), `from ${peer.name}`).toBe(true);
      const neigh = await ip.json<{ dst: string; lladdr?: string }>(["neigh", "show", address], peer.netns);
      expect(neigh.find((n) => n.dst === address)?.lladdr).toBe(mac);
    }
  });

  it("deleting a pod closes its connections: no TF objects, no agent port", async () => {
    const vmi = await tf.lookupId("virtual-machine-interface", ["default-domain", "admin", "nsm-red-2"]);
    expect(vmi, "the connection's VMI exists before the pod is deleted").toBeDefined();
    const agent = new VrouterAgentClient({ baseUrl: lab.endpoints.agents["k8s-2"]! });
    expect(await agent.getPort(vmi!), "the port is plugged before the pod is deleted").toBeDefined();
    await lab.deletePod("red-far");
    expect((await nsm.listConnections()).map((c) => c.id)).not.toContain("red-2");
    expect(await tf.lookupId("virtual-machine", ["nsm-red-2"])).toBeUndefined();
    expect(await tf.lookupId("virtual-machine-interface", ["default-domain", "admin", "nsm-red-2"])).toBeUndefined();
    expect(await agent.getPort(vmi!)).toBeUndefined();
    expect(await reach(pod["red-pod"]!, addressOf(conns.far!))).toBe(false);
  });

  it("closing everything leaves no TF object, interface or connection behind", async () => {
    for (const c of await nsm.listConnections()) await nsm.close({ id: c.id });
    expect(await nsm.listConnections()).toEqual([]);
    for (const type of ["virtual-machine", "virtual-machine-interface", "instance-ip"]) expect(await tf.list(type)).toEqual([]);
    for (const name of ["red-pod", "blue-pod", "both"]) expect(await links(pod[name]!.netns)).toEqual(["eth0"]);
    await nsm.deleteNetworkService("red");
    expect(await nsm.getNetworkService("red")).toBeUndefined();
  });
});
