// vRouter agents against the real TF ConfigStore: a port's network, MAC and address come from the
// VMI, its instance-ip and its VN (as a real agent gets them from the control node), and the
// control node keeps the VN's endpoints in sync across nodes.
import { randomUUID } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVeth, ip, netns } from "../../lib/kernel/index.ts";
import { ConfigStore } from "../../lab/tf/configStore.ts";
import { createDataplane } from "../../lab/compute/index.ts";
import type { Dataplane } from "../../lab/compute/index.ts";
import type { VmPort } from "../../lab/dataplane/types.ts";
import { nodeNetns, vmNetns } from "../../lab/dataplane/names.ts";
import { tapName } from "../../wire/vrouterAgent.ts";
import { configStorePortConfig } from "../../lab/vrouter/portConfig.ts";
import { parsePortRequests } from "../../lab/vrouter/portRequest.ts";
import { close, listen } from "../../lib/http/server.ts";
import { isolated, reaches } from "./dataplane-fixture.ts";

const prefix = `v${randomUUID().replace(/-/g, "").slice(0, 5)}`;
const nodes = [
  { name: "c1", ip: "172.31.0.10" },
  { name: "c2", ip: "172.31.0.11" },
];
let store: ConfigStore;
let dp: Dataplane;
let agentUrl: (node: string) => string;
let red: { uuid: string; networkId: number };

function createVn(name: string, cidr: string): { uuid: string; networkId: number } {
  const [ip_prefix, len] = cidr.split("/");
  const vn = store.create("virtual-network", {
    fq_name: ["default-domain", "admin", name],
    parent_type: "project",
    network_ipam_refs: [
      { to: ["default-domain", "default-project", "default-network-ipam"], attr: { ipam_subnets: [{ subnet: { ip_prefix, ip_prefix_len: Number(len) } }] } },
    ],
  });
  const full = store.read("virtual-network", vn.uuid as string) as unknown as { virtual_network_network_id: number };
  return { uuid: vn.uuid as string, networkId: full.virtual_network_network_id };
}

function createVmi(vnUuid: string, name: string): string {
  const vmi = store.create("virtual-machine-interface", { fq_name: ["default-domain", "admin", name], parent_type: "project", virtual_network_refs: [{ uuid: vnUuid }] });
  return vmi.uuid as string;
}

function createIip(vnUuid: string, vmiUuid: string, name: string, address?: string): void {
  store.create("instance-ip", {
    fq_name: [name],
    virtual_network_refs: [{ uuid: vnUuid }],
    virtual_machine_interface_refs: [{ uuid: vmiUuid }],
    ...(address ? { instance_ip_address: address } : {}),
  });
}

/** What Nova hands to bootVm, read back from the store. */
function vmPort(vmiUuid: string): VmPort {
  const r = configStorePortConfig(store).resolvePort(vmiUuid)!;
  return { vmiUuid, vnUuid: r.vnUuid, networkId: r.networkId, mac: r.mac, ip: r.ip, prefixLength: r.prefixLength, gateway: r.gateway! };
}

async function post(node: string, body: unknown) {
  const res = await fetch(`${agentUrl(node)}/port`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as unknown };
}

async function get(node: string, uuid: string) {
  const res = await fetch(`${agentUrl(node)}/port/${uuid}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  const db = new DatabaseSync(":memory:");
  store = new ConfigStore(db, { nodes });
  dp = createDataplane({ instance: { name: prefix, prefix, computeNodes: nodes.map((n) => n.name), k8sNodes: [] }, db, store });
  await dp.start();
  const urls = new Map<string, string>();
  for (const [node, server] of dp.agentServers()) urls.set(node, `http://127.0.0.1:${await listen(server, 0)}`);
  agentUrl = (node) => urls.get(node)!;
  red = createVn("red", "10.1.1.0/24");
}, 30_000);

afterAll(async () => {
  for (const server of dp?.agentServers().values() ?? []) if (server.listening) await close(server);
  await dp?.destroy();
  for (const ns of netns.list(`${prefix}-`)) await netns.del(ns);
  expect(netns.list(`${prefix}-`)).toEqual([]);
});

describe("port config from the TF ConfigStore", () => {
  it("resolves a VMI to its VN, network id, MAC, address, gateway and DNS server", () => {
    const vmi = createVmi(red.uuid, "vmi-resolve");
    expect(configStorePortConfig(store).resolvePort(vmi)).toBeUndefined(); // no instance-ip yet
    createIip(red.uuid, vmi, "iip-resolve", "10.1.1.100");
    expect(configStorePortConfig(store).resolvePort(vmi)).toMatchObject({
      vmiUuid: vmi,
      vnUuid: red.uuid,
      vnFqName: "default-domain:admin:red",
      networkId: red.networkId,
      ip: "10.1.1.100",
      prefixLength: 24,
      gateway: "10.1.1.254",
      dnsServer: "10.1.1.253",
      vnGateways: [{ ip: "10.1.1.254", prefixLength: 24 }],
    });
    expect(configStorePortConfig(store).resolvePort(vmi)?.mac).toMatch(/^02:/);
  });

  it("knows nothing of an unknown VMI", () => {
    expect(configStorePortConfig(store).resolvePort(randomUUID())).toBeUndefined();
  });
});

describe("VMs booted from store config", () => {
  const vm1 = randomUUID();
  const vm2 = randomUUID();
  let p1: VmPort;
  let p2: VmPort;

  beforeAll(async () => {
    const vmi1 = createVmi(red.uuid, "vmi-1");
    createIip(red.uuid, vmi1, "iip-1");
    const vmi2 = createVmi(red.uuid, "vmi-2");
    createIip(red.uuid, vmi2, "iip-2");
    p1 = vmPort(vmi1);
    p2 = vmPort(vmi2);
    await dp.vmRuntime.bootVm({ serverId: vm1, name: "vm1", node: "c1", ports: [p1] });
    await dp.vmRuntime.bootVm({ serverId: vm2, name: "vm2", node: "c2", ports: [p2] });
  }, 30_000);

  it("reach each other across compute nodes with the addresses TF allocated", async () => {
    expect(p1.ip).toMatch(/^10\.1\.1\./);
    expect(await reaches(vmNetns(prefix, vm1), p2.ip)).toBe(true);
    expect(await reaches(vmNetns(prefix, vm2), p1.ip)).toBe(true);
  });

  it("GET /port answers the live config", async () => {
    const res = await get("c1", p1.vmiUuid);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: p1.vmiUuid, "instance-id": vm1, "system-name": tapName(p1.vmiUuid), "ip-address": p1.ip, plen: 24, gateway: "10.1.1.254" });
  });

  it("a port plugged before its instance-ip exists gets its address when the config arrives", async () => {
    const vmi = createVmi(red.uuid, "vmi-late");
    const peerNs = `${prefix}-vm-late`;
    await netns.add(peerNs);
    await createVeth(tapName(vmi), "eth0", { netnsA: nodeNetns(prefix, "c2"), netnsB: peerNs });
    const body = { id: vmi, "instance-id": randomUUID(), "vn-id": red.uuid, "mac-address": "02:00:00:00:99:01", "system-name": tapName(vmi), type: 0 };
    expect(await post("c2", body)).toEqual({ status: 200, body: {} });
    expect((await get("c2", vmi)).status).toBe(404);
    createIip(red.uuid, vmi, "iip-late", "10.1.1.77");
    await dp.agents.refresh(); // queued behind the refresh the store change started
    expect((await get("c2", vmi)).body).toMatchObject({ "ip-address": "10.1.1.77", plen: 24 });
    const desc = await dp.describe();
    const redOnC2 = desc.nodes.find((n) => n.name === "c2")!.networks.find((n) => n.networkId === red.networkId)!;
    expect(redOnC2.ports).toContain(tapName(vmi));
    expect(redOnC2.fqName).toBe("default-domain:admin:red");
    await fetch(`${agentUrl("c2")}/port/${vmi}`, { method: "DELETE" });
    await netns.del(peerNs);
  });

  it("answers port calls that arrive together each on its own: plugged ones carry traffic, one without its interface is refused", async () => {
    const guests = ["c1", "c2"].map((node, i) => {
      const vmi = createVmi(red.uuid, `vmi-together-${i}`);
      createIip(red.uuid, vmi, `iip-together-${i}`, `10.1.1.${120 + i}`);
      return { node, vmi, ns: `${prefix}-vm-tog${i}`, port: vmPort(vmi) };
    });
    for (const g of guests) {
      await netns.add(g.ns);
      await createVeth(tapName(g.vmi), "eth0", { netnsA: nodeNetns(prefix, g.node), netnsB: g.ns, macB: g.port.mac });
      await ip.batch([["addr", "add", `${g.port.ip}/24`, "dev", "eth0"], ["link", "set", "dev", "eth0", "up"]], g.ns);
    }
    const missing = createVmi(red.uuid, "vmi-together-missing");
    const body = (vmi: string) => ({ id: vmi, "instance-id": randomUUID(), "vn-id": red.uuid, "mac-address": vmPort(vmi).mac, "system-name": tapName(vmi), type: 0 });
    createIip(red.uuid, missing, "iip-together-missing");

    const answers = await Promise.all([...guests.map((g) => post(g.node, body(g.vmi))), post("c1", body(missing))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 500]);
    expect(JSON.stringify(answers[2]!.body)).toContain(`interface ${tapName(missing)} does not exist on c1`);
    expect((await get("c1", missing)).status).toBe(404);
    expect(await reaches(guests[0]!.ns, guests[1]!.port.ip)).toBe(true);

    const gone = await Promise.all(guests.map((g) => fetch(`${agentUrl(g.node)}/port/${g.vmi}`, { method: "DELETE" })));
    expect(gone.map((r) => r.status)).toEqual([200, 200]);
    expect(await isolated(guests[0]!.ns, guests[1]!.port.ip)).toBe(true);
    for (const g of guests) await netns.del(g.ns);
  });

  it("a VN created later is isolated from red", async () => {
    const blue = createVn("blue", "10.2.2.0/24");
    const vmi = createVmi(blue.uuid, "vmi-blue");
    createIip(blue.uuid, vmi, "iip-blue");
    const vm3 = randomUUID();
    await dp.vmRuntime.bootVm({ serverId: vm3, name: "vm3", node: "c1", ports: [vmPort(vmi)] });
    expect(await reaches(vmNetns(prefix, vm3), "10.2.2.254")).toBe(true);
    expect(await isolated(vmNetns(prefix, vm3), p1.ip)).toBe(true);
    expect(await isolated(vmNetns(prefix, vm1), "10.2.2.254")).toBe(true);
    await dp.vmRuntime.deleteVm(vm3);
  });
});

describe("POST /port body", () => {
  const base = { id: randomUUID(), "instance-id": randomUUID(), "vn-id": randomUUID(), "mac-address": "02:aa:bb:cc:dd:ee", "system-name": "tapabc", type: 0 };

  it("accepts one object or an array, and normalizes uuid and MAC case", () => {
    expect(parsePortRequests({ ...base, id: base.id.toUpperCase(), "mac-address": "02:AA:BB:CC:DD:EE" })[0]).toMatchObject({ id: base.id, mac: "02:aa:bb:cc:dd:ee", type: 0 });
    expect(parsePortRequests([base, { ...base, id: randomUUID(), "system-name": "tapdef" }])).toHaveLength(2);
  });

  it("requires vn-id only for VM ports", () => {
    expect(() => parsePortRequests({ ...base, "vn-id": undefined })).toThrow(/vn-id/);
    expect(parsePortRequests({ ...base, "vn-id": undefined, type: 1 })[0]?.vnId).toBeUndefined();
  });

  it("refuses bad fields with a message naming them", () => {
    expect(() => parsePortRequests({ ...base, type: 2 })).toThrow(/"type"/);
    expect(() => parsePortRequests({ ...base, "mac-address": "02:aa:bb" })).toThrow(/mac-address/);
    expect(() => parsePortRequests({ ...base, "system-name": "tap-name-longer-than-15" })).toThrow(/system-name/);
    expect(() => parsePortRequests({ ...base, id: "nope" })).toThrow(/"id"/);
    expect(() => parsePortRequests({ ...base, "ip-address": "10.1.1" })).toThrow(/ip-address/);
    expect(() => parsePortRequests([])).toThrow(/non-empty/);
    expect(() => parsePortRequests([base, base])).toThrow(/twice/);
  });
});
