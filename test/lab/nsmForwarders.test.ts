// The NSM manager with the real tungsten and kernel forwarders, in real network namespaces (root):
// the lab TF config API over HTTP, a recording vRouter agent, and a node and pods made here.
import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, createJsonServer, close, listen } from "../../lib/http/server.ts";
import type { ApiRequest } from "../../lib/http/server.ts";
import { listLinks, listAddresses, netns, ping, run } from "../../lib/kernel/index.ts";
import { ConfigStore } from "../../lab/tf/configStore.ts";
import { createTfServer } from "../../lab/tf/server.ts";
import { createNsm } from "../../lab/nsm/index.ts";
import type { LabNsm } from "../../lab/nsm/index.ts";
import { TfClient } from "../../wire/tf.ts";
import type { NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { bridgeName } from "../../nsm/forwarders/kernel/names.ts";
import { tapName } from "../../wire/vrouterAgent.ts";

const prefix = `n${randomBytes(2).toString("hex")}`;
const node = "k8s-1";
const nodeNs = `${prefix}-${node}`;
const podNs = (pod: string) => `${prefix}-pod-${pod}`;

let tfServer: ReturnType<typeof createTfServer>;
let agentServer: ReturnType<typeof createJsonServer>;
const agentPorts = new Map<string, Record<string, unknown>>();
let nsm: LabNsm;
let tf: TfClient;

function attach(id: string, pod: string, service: string, name?: string): NetworkServiceRequest {
  return {
    connection: { id, network_service: service, labels: { nodeName: node, podName: pod } },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: podNs(pod), ...(name ? { name } : {}) } }],
  };
}

const nsmLinks = async (ns: string) => (await listLinks(ns)).filter((l) => l.ifname !== "lo").map((l) => l.ifname);
const addrsOf = async (ns: string, dev: string) =>
  (await listAddresses(ns, dev)).flatMap((a) => a.addr_info.filter((i) => i.family === "inet").map((i) => `${i.local}/${i.prefixlen}`));

beforeAll(async () => {
  for (const ns of [nodeNs, podNs("a"), podNs("b")]) await netns.add(ns);

  const store = new ConfigStore(new DatabaseSync(":memory:"), { nodes: [{ name: node, ip: "172.31.0.12" }] });
  tfServer = createTfServer({ store, auth: null });
  const tfPort = await listen(tfServer, 0);
  tf = new TfClient({ baseUrl: `http://127.0.0.1:${tfPort}`, retries: 0 });
  const ipam = await tf.create("network-ipam", { fq_name: ["default-domain", "admin", "ipam"], parent_type: "project" });
  await tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", "red"],
    parent_type: "project",
    network_ipam_refs: [{ to: ipam.fq_name, attr: { ipam_subnets: [{ subnet: { ip_prefix: "10.1.1.0", ip_prefix_len: 24 } }] } }],
  });

  agentServer = createJsonServer({
    name: "fake-agent",
    routes: [
      {
        method: "POST",
        pattern: "/port",
        handler: (req: ApiRequest) => {
          const p = req.body as Record<string, unknown>;
          agentPorts.set(p.id as string, p);
          return { body: {} };
        },
      },
      {
        method: "GET",
        pattern: "/port/:id",
        handler: (req) => {
          const p = agentPorts.get(req.params.id!);
          if (!p) throw new ApiError(404, "Not Found");
          return { body: p };
        },
      },
      { method: "DELETE", pattern: "/port/:id", handler: (req) => (agentPorts.delete(req.params.id!), { body: {} }) },
    ],
  });
  const agentPort = await listen(agentServer, 0);

  nsm = createNsm({
    db: new DatabaseSync(":memory:"),
    instance: { prefix, k8sNodes: [node], auth: "noauth" },
    endpoints: {
      tf: `http://127.0.0.1:${tfPort}`,
      keystone: "http://127.0.0.1:1/v3",
      nsm: "http://127.0.0.1:1",
      agents: { [node]: `http://127.0.0.1:${agentPort}` },
      credentials: { username: "admin", password: "x", project: "admin", domain: "Default" },
    },
  });
  await nsm.start();
  nsm.registry.registerService({ name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } });
  nsm.registry.registerService({ name: "local", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } });
});

afterAll(async () => {
  for (const ns of netns.list(`${prefix}-`)) await netns.del(ns);
  if (tfServer) await close(tfServer);
  if (agentServer) await close(agentServer);
});

describe("kernel forwarder", () => {
  it("gives two pods interfaces on one local bridge, with addresses from the service's CIDR, and they reach each other", async () => {
    const a = await nsm.manager.request(attach("ka", "a", "local"));
    const b = await nsm.manager.request(attach("kb", "b", "local"));
    expect(a.state).toBe("UP");
    expect(a.mechanism?.parameters?.name).toBe("nsm-1");
    expect(a.context?.ip_context?.src_ip_addrs).toEqual(["10.60.0.2/24"]);
    expect(b.context?.ip_context?.src_ip_addrs).toEqual(["10.60.0.3/24"]);
    expect(await addrsOf(podNs("a"), "nsm-1")).toEqual(["10.60.0.2/24"]);
    const podSide = (await listLinks(podNs("a"))).find((l) => l.ifname === "nsm-1")!;
    expect(podSide.address).toBe(a.context?.ethernet_context?.src_mac);
    expect(podSide.ifalias).toBe("nsm:ka");
    const bridge = bridgeName("local");
    expect((await listLinks(nodeNs, { master: bridge })).map((l) => l.ifname)).toHaveLength(2);
    expect(await addrsOf(nodeNs, bridge)).toEqual(["10.60.0.1/24"]);
    expect((await ping(podNs("a"), "10.60.0.3", { wait: 2 })).ok).toBe(true);
    expect((await ping(podNs("b"), "10.60.0.1", { wait: 2 })).ok).toBe(true);
  });

  it("treats a repeated request as a heal: same interface, same address", async () => {
    const again = await nsm.manager.request(attach("ka", "a", "local"));
    expect(again.mechanism?.parameters?.name).toBe("nsm-1");
    expect(again.context?.ip_context?.src_ip_addrs).toEqual(["10.60.0.2/24"]);
    expect(await nsmLinks(podNs("a"))).toEqual(["nsm-1"]);
  });

  it("heals a connection whose interface was deleted behind its back", async () => {
    await run("ip", ["link", "del", "dev", "nsm-1"], { netns: podNs("a") });
    const results = await nsm.manager.heal();
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(await addrsOf(podNs("a"), "nsm-1")).toEqual(["10.60.0.2/24"]);
    expect((await ping(podNs("a"), "10.60.0.3", { wait: 2 })).ok).toBe(true);
  });

  it("checks the data plane: UP while intact; DOWN naming a lost address, another MAC or a lost interface, each healed by a repeated request", async () => {
    const state = async () => (await nsm.manager.check("ka"))!;
    expect(await state()).toEqual({ connection: expect.objectContaining({ id: "ka", state: "UP" }) });
    await run("ip", ["addr", "flush", "dev", "nsm-1"], { netns: podNs("a") });
    expect(await state()).toMatchObject({ connection: { state: "DOWN" }, problem: expect.stringContaining("10.60.0.2/24") });
    await nsm.manager.request(attach("ka", "a", "local"));
    expect((await state()).connection.state).toBe("UP");
    await run("ip", ["link", "set", "dev", "nsm-1", "address", "02:00:00:00:00:99"], { netns: podNs("a") });
    expect(await state()).toMatchObject({ connection: { state: "DOWN" }, problem: expect.stringContaining("02:00:00:00:00:99") });
    await nsm.manager.request(attach("ka", "a", "local"));
    expect((await state()).connection.state).toBe("UP");
    await run("ip", ["link", "del", "dev", "nsm-1"], { netns: podNs("a") });
    expect(await state()).toMatchObject({ connection: { state: "DOWN" }, problem: expect.stringContaining("nsm-1") });
    await nsm.manager.request(attach("ka", "a", "local"));
    expect((await state()).connection.state).toBe("UP");
    expect(await nsm.manager.check("unknown")).toBeUndefined();
  });

  it("chooses interface names itself: a connection whose interface went missing keeps its name, a new one takes the next", async () => {
    const held = await nsm.manager.request(attach("kh", "a", "local"));
    expect(held.mechanism?.parameters?.name).toBe("nsm-2");
    await run("ip", ["link", "del", "dev", "nsm-2"], { netns: podNs("a") });
    const next = await nsm.manager.request(attach("kn", "a", "local"));
    expect(next.mechanism?.parameters?.name).toBe("nsm-3");
    const healed = await nsm.manager.request(attach("kh", "a", "local"));
    expect(healed.mechanism?.parameters?.name).toBe("nsm-2");
    expect((await nsmLinks(podNs("a"))).sort()).toEqual(["nsm-1", "nsm-2", "nsm-3"]);
    await nsm.manager.close({ id: "kh" });
    await nsm.manager.close({ id: "kn" });
  });

  it("undoes a request that fails half-way: no lease, no host interface, no bridge left", async () => {
    // "lo" exists in every pod and is not ours: the veth step refuses it after the bridge was made.
    await nsm.manager.close({ id: "ka" });
    await nsm.manager.close({ id: "kb" });
    const err = await nsm.manager.request(attach("kc", "a", "local", "lo")).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/interface lo already exists/);
    expect(nsm.manager.get("kc")).toBeUndefined();
    expect(await nsmLinks(nodeNs)).toEqual([]);
    // The address the failed request had leased is free again.
    const d = await nsm.manager.request(attach("kd", "b", "local"));
    expect(d.context?.ip_context?.src_ip_addrs).toEqual(["10.60.0.2/24"]);
    await nsm.manager.close({ id: "kd" });
  });

  it("close removes the interfaces, the bridge and the leases", async () => {
    expect(await nsmLinks(podNs("a"))).toEqual([]);
    expect(await nsmLinks(podNs("b"))).toEqual([]);
    expect(await nsmLinks(nodeNs)).toEqual([]);
    expect(nsm.manager.list()).toEqual([]);
  });
});

describe("tungsten forwarder", () => {
  it("plugs a pod into the VN: TF objects, veth with the VMI MAC, agent port, address and on-link route", async () => {
    const conn = await nsm.manager.request(attach("t1", "a", "red"));
    const vmi = await tf.readByFqName("virtual-machine-interface", ["default-domain", "admin", "nsm-t1"]);
    const mac = (vmi!.virtual_machine_interface_mac_addresses as { mac_address: string[] }).mac_address[0]!;
    const ip = conn.context!.ip_context!.src_ip_addrs![0]!;
    expect(ip).toMatch(/^10\.1\.1\.\d+\/24$/);
    expect(conn.context?.ethernet_context?.src_mac).toBe(mac);
    expect(conn.context?.ip_context?.src_routes).toEqual([{ prefix: "10.1.1.0/24" }]);
    expect(conn.network_service_endpoint_name).toBe("tungsten@k8s-1");

    const pod = (await listLinks(podNs("a"))).find((l) => l.ifname === "nsm-1")!;
    expect(pod.address).toBe(mac);
    expect(pod.flags).toContain("UP");
    expect(await addrsOf(podNs("a"), "nsm-1")).toEqual([ip]);
    const routes = await run("ip", ["-j", "route", "show", "10.1.1.0/24"], { netns: podNs("a") });
    expect(JSON.parse(routes.stdout)).toEqual([expect.objectContaining({ dev: "nsm-1" })]);
    const defaults = await run("ip", ["-j", "route", "show", "default"], { netns: podNs("a") });
    expect(JSON.parse(defaults.stdout || "[]")).toEqual([]);

    const tap = tapName(vmi!.uuid);
    expect(await nsmLinks(nodeNs)).toEqual([tap]);
    expect(agentPorts.get(vmi!.uuid)).toMatchObject({ "system-name": tap, "mac-address": mac, "ip-address": ip.split("/")[0], type: 0 });
  });

  it("checks the data plane: UP while the pod interface is there and the agent carries the port, DOWN when it does not", async () => {
    expect((await nsm.manager.check("t1"))?.connection.state).toBe("UP");
    const [port, body] = [...agentPorts.entries()][0]!;
    agentPorts.delete(port);
    expect(await nsm.manager.check("t1")).toMatchObject({ connection: { state: "DOWN" }, problem: expect.stringContaining(`does not carry port ${port}`) });
    agentPorts.set(port, body);
    expect((await nsm.manager.check("t1"))?.connection.state).toBe("UP");
  });

  it("a heal after its VMI was deleted in TF plugs the rebuilt VMI and unplugs the deleted one's port", async () => {
    const fq = ["default-domain", "admin", "nsm-t1"];
    const old = (await tf.readByFqName("virtual-machine-interface", fq))!;
    for (const iip of (old.instance_ip_back_refs as Array<{ uuid: string }> | undefined) ?? []) await tf.delete("instance-ip", iip.uuid);
    await tf.delete("virtual-machine-interface", old.uuid);
    await nsm.manager.request(attach("t1", "a", "red"));
    const rebuilt = (await tf.readByFqName("virtual-machine-interface", fq))!;
    expect(rebuilt.uuid).not.toBe(old.uuid);
    expect([...agentPorts.keys()]).toEqual([rebuilt.uuid]);
    expect(await nsmLinks(nodeNs)).toEqual([tapName(rebuilt.uuid)]);
  });

  it("close of a connection whose VMI was deleted in TF still unplugs its port", async () => {
    await nsm.manager.request(attach("t3", "b", "red"));
    const vmi = (await tf.readByFqName("virtual-machine-interface", ["default-domain", "admin", "nsm-t3"]))!;
    expect(agentPorts.has(vmi.uuid)).toBe(true);
    for (const iip of (vmi.instance_ip_back_refs as Array<{ uuid: string }> | undefined) ?? []) await tf.delete("instance-ip", iip.uuid);
    await tf.delete("virtual-machine-interface", vmi.uuid);
    await nsm.manager.close({ id: "t3" });
    expect(agentPorts.has(vmi.uuid)).toBe(false);
    expect(await nsmLinks(podNs("b"))).toEqual([]);
    expect((await nsmLinks(nodeNs)).filter((l) => l === tapName(vmi.uuid))).toEqual([]);
  });

  it("close unplugs the port, removes the veth and deletes every TF object", async () => {
    await nsm.manager.close({ id: "t1" });
    expect(agentPorts.size).toBe(0);
    expect(await nsmLinks(podNs("a"))).toEqual([]);
    expect(await nsmLinks(nodeNs)).toEqual([]);
    for (const type of ["virtual-machine", "virtual-machine-interface", "instance-ip"]) expect(await tf.list(type)).toEqual([]);
  });

  it("refuses a pod whose netns does not exist before creating anything in TF", async () => {
    const err = await nsm.manager.request(attach("t9", "ghost", "red")).catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(400);
    expect((err as Error).message).toContain(`${prefix}-pod-ghost`);
    expect(await tf.list("virtual-machine")).toEqual([]);
  });

  it("closes all connections of a pod", async () => {
    await nsm.manager.request(attach("t2", "b", "red"));
    await nsm.manager.request(attach("k2", "b", "local"));
    expect(await nsmLinks(podNs("b"))).toEqual(["nsm-1", "nsm-2"]);
    await nsm.manager.closeByPod("b");
    expect(await nsmLinks(podNs("b"))).toEqual([]);
    expect(nsm.manager.list()).toEqual([]);
  });
});
