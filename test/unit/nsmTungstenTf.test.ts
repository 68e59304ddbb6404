// The tungsten forwarder's TF element against the lab's TF config API over HTTP (the same wire a
// real contrail-api speaks), and the TF client's error surfacing.
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpError } from "../../lib/http/client.ts";
import { close, listen } from "../../lib/http/server.ts";
import { ConfigStore } from "../../lab/tf/configStore.ts";
import { requireKeystoneToken } from "../../lab/keystoneAuth.ts";
import { createTfServer } from "../../lab/tf/server.ts";
import { TfClient } from "../../wire/tf.ts";
import type { TfObject, TfRef } from "../../wire/tf.ts";
import type { Connection, ConnectionContext, NetworkService } from "../../wire/nsm/api.ts";
import { chain, ChainError } from "../../nsm/chain.ts";
import type { Element } from "../../nsm/chain.ts";
import { NsmError } from "../../nsm/errors.ts";
import { IIP_UUID, VM_UUID, VMI_UUID, VN_UUID } from "../../nsm/forwarders/tungsten/context.ts";
import { tfObjects } from "../../nsm/forwarders/tungsten/tfObjects.ts";
import { serviceBinding } from "../../nsm/manager.ts";

let server: ReturnType<typeof createTfServer>;
let tf: TfClient;
let redUuid: string;

beforeAll(async () => {
  const store = new ConfigStore(new DatabaseSync(":memory:"), { nodes: [{ name: "k8s-1", ip: "172.31.0.12" }, { name: "k8s-2", ip: "172.31.0.13" }] });
  server = createTfServer({ store, auth: null });
  const port = await listen(server, 0);
  tf = new TfClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0 });
  const ipam = await tf.create("network-ipam", { fq_name: ["default-domain", "admin", "ipam-nsm"], parent_type: "project" });
  const vn = await tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", "red"],
    parent_type: "project",
    network_ipam_refs: [
      { to: ipam.fq_name, attr: { ipam_subnets: [{ subnet: { ip_prefix: "10.1.1.0", ip_prefix_len: 24 } }] } },
    ],
  });
  redUuid = vn.uuid;
});

afterAll(async () => {
  if (server) await close(server);
});

const RED: NetworkService = { name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } };

/** Connection `id` as the manager hands it to the forwarder (a heal carries state UP and the established context). */
function call(id: string, over: { heal?: boolean; service?: NetworkService; node?: string; context?: ConnectionContext } = {}): Connection {
  const service = over.service ?? RED;
  const node = over.node ?? "k8s-1";
  return {
    id,
    network_service: service.name,
    labels: { nodeName: node },
    mechanism: { cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "t-pod-x" } },
    network_service_endpoint_name: `tungsten@${node}`,
    payload: service.payload,
    context: { ...over.context, extra_context: serviceBinding(service) },
    ...(over.heal ? { state: "UP" as const } : {}),
  };
}

/** What tf-objects wrote into a connection's context, in the shape these tests read it. */
function tfOf(c: Connection) {
  const extra = c.context?.extra_context ?? {};
  const [ip, plen] = (c.context?.ip_context?.src_ip_addrs?.[0] ?? "").split("/");
  return {
    vnUuid: extra[VN_UUID],
    vmUuid: extra[VM_UUID],
    vmiUuid: extra[VMI_UUID],
    iipUuid: extra[IIP_UUID],
    mac: c.context?.ethernet_context?.src_mac,
    ip,
    prefixLen: Number(plen),
    subnet: c.context?.ip_context?.src_routes?.[0]?.prefix,
    gateway: c.context?.ip_context?.dst_ip_addrs?.[0]?.split("/")[0],
  };
}

/** The rest of the forwarder, reduced to "remember what arrived, or fail". */
function downstream() {
  const seen: Connection[] = [];
  let fail = false;
  const element: Element<Connection> = {
    name: "tungsten/veth",
    request: async (c, next) => {
      if (fail) throw new Error("veth broke");
      seen.push(c);
      return next.request(c);
    },
    close: async (c, next) => {
      seen.push(c);
      return next.close(c);
    },
  };
  return { element, seen, fail: () => (fail = true) };
}

const names = async (type: string) => (await tf.list(type)).map((o) => o.fq_name.join(":"));
const routerRefs = async (node: string) => {
  const vr = await tf.readByFqName("virtual-router", ["default-global-system-config", node]);
  return ((vr?.virtual_machine_refs as TfRef[] | undefined) ?? []).map((r) => r.to.join(":"));
};

/** Connection c1 through the TF element, then its instance-ip and VMI deleted in TF behind its back. */
async function establishedThenVmiDeletedInTf() {
  const d = downstream();
  const c = chain([tfObjects(tf), d.element]);
  await c.request(call("c1"));
  const first = tfOf(d.seen[0]!);
  await tf.delete("instance-ip", first.iipUuid!);
  await tf.delete("virtual-machine-interface", first.vmiUuid!);
  return { d, c, first };
}

/** A heal of `id` whose connection context holds the MAC and address the client got before. */
function healWithClientContext(id: string, before: { ip?: string; mac?: string }): Connection {
  const context = { ip_context: { src_ip_addrs: [`${before.ip}/24`] }, ethernet_context: { src_mac: before.mac! } };
  return call(id, { heal: true, context });
}

describe("tungsten forwarder: TF objects", () => {
  beforeEach(async () => {
    for (const type of ["instance-ip", "virtual-machine-interface"]) {
      for (const o of await tf.list(type)) await tf.delete(type, o.uuid);
    }
    for (const o of await tf.list("virtual-machine")) {
      for (const node of ["k8s-1", "k8s-2"]) {
        const vr = await tf.fqNameToId("virtual-router", ["default-global-system-config", node]);
        await tf.refUpdate({ operation: "DELETE", type: "virtual-router", uuid: vr, refType: "virtual-machine", refUuid: o.uuid }).catch(() => {});
      }
      await tf.delete("virtual-machine", o.uuid);
    }
  });

  it("creates the VM, VMI, instance-ip and the node's virtual-router ref, and hands the port's facts on", async () => {
    const d = downstream();
    await chain([tfObjects(tf), d.element]).request(call("c1"));
    const got = tfOf(d.seen[0]!);

    const vm = await tf.read("virtual-machine", got.vmUuid!);
    expect(vm.fq_name).toEqual(["nsm-c1"]);
    expect(vm.server_type).toBe("container");
    const vmi = await tf.read("virtual-machine-interface", got.vmiUuid!);
    expect(vmi.fq_name).toEqual(["default-domain", "admin", "nsm-c1"]);
    expect((vmi.virtual_network_refs as TfRef[])[0]!.uuid).toBe(redUuid);
    expect((vmi.virtual_machine_refs as TfRef[])[0]!.uuid).toBe(got.vmUuid);
    const iip = await tf.read("instance-ip", got.iipUuid!);
    expect(iip.instance_ip_address).toBe(got.ip);
    expect((iip.virtual_machine_interface_refs as TfRef[])[0]!.uuid).toBe(got.vmiUuid);
    expect(await routerRefs("k8s-1")).toEqual(["nsm-c1"]);

    expect(got.mac).toBe((vmi.virtual_machine_interface_mac_addresses as { mac_address: string[] }).mac_address[0]);
    expect(got.ip).toMatch(/^10\.1\.1\.\d+$/);
    expect(got).toMatchObject({ prefixLen: 24, subnet: "10.1.1.0/24", gateway: "10.1.1.254", vnUuid: redUuid });
  });

  it("is idempotent: a repeated request finds the objects instead of making new ones", async () => {
    const d = downstream();
    const c = chain([tfObjects(tf), d.element]);
    await c.request(call("c1"));
    await c.request(call("c1", { heal: true }));
    expect(tfOf(d.seen[1]!)).toEqual(tfOf(d.seen[0]!));
    expect(await names("virtual-machine-interface")).toEqual(["default-domain:admin:nsm-c1"]);
    expect(await names("instance-ip")).toEqual(["nsm-c1"]);
  });

  it("close deletes every object it made, after the rest of the chain closed with the VMI still known", async () => {
    const d = downstream();
    const c = chain([tfObjects(tf), d.element]);
    await c.request(call("c1"));
    const vmiUuid = tfOf(d.seen[0]!).vmiUuid;
    await c.close(call("c1", { heal: true }));
    expect(tfOf(d.seen[1]!).vmiUuid).toBe(vmiUuid);
    expect(await names("virtual-machine")).toEqual([]);
    expect(await names("virtual-machine-interface")).toEqual([]);
    expect(await names("instance-ip")).toEqual([]);
    expect(await routerRefs("k8s-1")).toEqual([]);
    // A second close finds nothing and is fine.
    await c.close(call("c1", { heal: true }));
  });

  it("rolls its objects back when a later element fails a new request, and names that element", async () => {
    const d = downstream();
    d.fail();
    const err = await chain([tfObjects(tf), d.element]).request(call("c1")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).message).toBe("tungsten/veth: veth broke");
    expect(await names("virtual-machine")).toEqual([]);
    expect(await names("virtual-machine-interface")).toEqual([]);
    expect(await names("instance-ip")).toEqual([]);
    expect(await routerRefs("k8s-1")).toEqual([]);
  });

  it("keeps an established connection's objects when its heal fails further down", async () => {
    const ok = downstream();
    await chain([tfObjects(tf), ok.element]).request(call("c1"));
    const broken = downstream();
    broken.fail();
    await expect(chain([tfObjects(tf), broken.element]).request(call("c1", { heal: true }))).rejects.toThrow(/veth broke/);
    expect(await names("virtual-machine-interface")).toEqual(["default-domain:admin:nsm-c1"]);
  });

  it("a heal after the VMI and instance-ip were deleted in TF rebuilds them with the client's MAC and address", async () => {
    const { d, c, first } = await establishedThenVmiDeletedInTf();
    await c.request(healWithClientContext("c1", first));
    const rebuilt = tfOf(d.seen[1]!);
    expect(rebuilt.vmiUuid).not.toBe(first.vmiUuid);
    expect({ mac: rebuilt.mac, ip: rebuilt.ip }).toEqual({ mac: first.mac, ip: first.ip });
    expect(await names("virtual-machine-interface")).toEqual(["default-domain:admin:nsm-c1"]);
  });

  it("a rebuilt VMI takes the address TF offers when the client's old one is taken meanwhile", async () => {
    const { d, c, first } = await establishedThenVmiDeletedInTf();
    await c.request(call("c2"));
    expect(tfOf(d.seen[1]!).ip).toBe(first.ip);
    await c.request(healWithClientContext("c1", first));
    const rebuilt = tfOf(d.seen[2]!);
    expect(rebuilt.ip).toMatch(/^10\.1\.1\.\d+$/);
    expect(rebuilt.ip).not.toBe(first.ip);
    expect(rebuilt.mac).toBe(first.mac);
  });

  it("refuses a service whose virtual network does not exist, naming it, and leaves nothing", async () => {
    const d = downstream();
    const svc = { name: "green", payload: "ETHERNET" as const, forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:green" } };
    const err = await chain([tfObjects(tf), d.element]).request(call("c1", { service: svc })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NsmError);
    expect((err as Error).message).toContain("default-domain:admin:green");
    expect(d.seen).toEqual([]);
    expect(await names("virtual-machine")).toEqual([]);
  });

  it("gives two connections distinct objects and addresses", async () => {
    const d = downstream();
    const c = chain([tfObjects(tf), d.element]);
    await Promise.all([c.request(call("a")), c.request(call("b", { node: "k8s-2" }))]);
    const [a, b] = [tfOf(d.seen.find((s) => s.id === "a")!), tfOf(d.seen.find((s) => s.id === "b")!)];
    expect(a.ip).not.toBe(b.ip);
    expect(a.mac).not.toBe(b.mac);
    expect(await routerRefs("k8s-2")).toEqual(["nsm-b"]);
  });
});

describe("TF client", () => {
  it("surfaces TF's plain-text errors with method, URL and status", async () => {
    const err = (await tf.create("virtual-network", { fq_name: ["default-domain", "admin", "red"], parent_type: "project" }).catch((e: unknown) => e)) as HttpError;
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBe(409);
    expect(err.serverMessage).toBe(`['default-domain', 'admin', 'red'] already exists with uuid: ${redUuid}`);
    expect(err.message).toContain("POST http://127.0.0.1:");
  });

  it("translates between fq_names and uuids, and answers undefined for unknown names", async () => {
    expect(await tf.fqNameToId("virtual-network", ["default-domain", "admin", "red"])).toBe(redUuid);
    expect(await tf.idToFqName(redUuid)).toEqual({ fq_name: ["default-domain", "admin", "red"], type: "virtual-network" });
    expect(await tf.lookupId("virtual-network", ["default-domain", "admin", "nope"])).toBeUndefined();
    const err = (await tf.fqNameToId("virtual-network", ["default-domain", "admin", "nope"]).catch((e: unknown) => e)) as HttpError;
    expect(err.status).toBe(404);
    expect(err.serverMessage).toContain("['default-domain', 'admin', 'nope']");
  });

  it("lists with detail and counts", async () => {
    const vns = await tf.listDetail<TfObject>("virtual-network", { parentFqName: ["default-domain", "admin"], parentType: "project" });
    expect(vns.map((v) => v.name)).toContain("red");
    expect(await tf.count("virtual-network", { parentFqName: ["default-domain", "admin"], parentType: "project" })).toBe(vns.length);
  });

  it("sends the token from its provider as X-Auth-Token", async () => {
    const store = new ConfigStore(new DatabaseSync(":memory:"), { nodes: [] });
    const authed = createTfServer({ store, auth: requireKeystoneToken((t) => t === "good") });
    const port = await listen(authed, 0);
    try {
      const good = new TfClient({ baseUrl: `http://127.0.0.1:${port}`, token: async () => "good", retries: 0 });
      expect(await good.lookupId("domain", ["default-domain"])).toBeDefined();
      const bad = new TfClient({ baseUrl: `http://127.0.0.1:${port}`, token: () => "bad", retries: 0 });
      await expect(bad.lookupId("domain", ["default-domain"])).rejects.toMatchObject({ status: 401 });
    } finally {
      await close(authed);
    }
  });
});
