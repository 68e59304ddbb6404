// ConfigStore behaviour that the HTTP API cannot show: persistence across a restart, change
// events, and all-or-nothing transactions.
import { afterEach, describe, expect, it } from "vitest";
import { openDb } from "../../lab/store/db.ts";
import { ConfigStore, TfError } from "../../lab/tf/configStore.ts";
import { newStore, removeDir, tempDir } from "./tf-harness.ts";

const IPAM = ["default-domain", "default-project", "default-network-ipam"];
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

function vn(name: string, cidr = "10.1.1.0") {
  return {
    fq_name: ["default-domain", "admin", name],
    parent_type: "project",
    network_ipam_refs: [{ to: IPAM, attr: { ipam_subnets: [{ subnet: { ip_prefix: cidr, ip_prefix_len: 24 } }] } }],
  };
}

describe("ConfigStore", () => {
  it("keeps objects, references, network ids and allocations across a reopen of the database", async () => {
    const dir = tempDir("tfmesh-store-");
    dirs.push(dir);
    const first = newStore(dir);
    const red = first.store.create("virtual-network", vn("red"));
    const iip = first.store.create("instance-ip", { fq_name: ["iip-a"], virtual_network_refs: [{ uuid: red.uuid }] });
    const seeded = first.store.fqNameToId("project", ["default-domain", "admin"]);
    first.db.close();

    const second = newStore(dir);
    expect(second.store.fqNameToId("project", ["default-domain", "admin"])).toBe(seeded);
    const again = second.store.read("virtual-network", red.uuid);
    expect(again.virtual_network_network_id).toBe(red.virtual_network_network_id);
    expect((again.instance_ip_back_refs as Array<{ uuid: string }>).map((r) => r.uuid)).toEqual([iip.uuid]);
    const blue = second.store.create("virtual-network", vn("blue", "10.2.2.0"));
    expect(blue.virtual_network_network_id).toBe((red.virtual_network_network_id as number) + 1);
    const next = second.store.create("instance-ip", { fq_name: ["iip-b"], virtual_network_refs: [{ uuid: red.uuid }] });
    expect(next.instance_ip_address).not.toBe(iip.instance_ip_address);
    expect(second.store.list("virtual-router", { count: true })).toEqual({ count: 3 });
    second.db.close();
  });

  it("reuses a freed network id, lowest first", () => {
    const dir = tempDir("tfmesh-store-");
    dirs.push(dir);
    const { store, db } = newStore(dir);
    const a = store.create("virtual-network", { fq_name: ["default-domain", "admin", "a"], parent_type: "project" });
    const b = store.create("virtual-network", { fq_name: ["default-domain", "admin", "b"], parent_type: "project" });
    store.delete("virtual-network", a.uuid);
    const c = store.create("virtual-network", { fq_name: ["default-domain", "admin", "c"], parent_type: "project" });
    expect(c.virtual_network_network_id).toBe(a.virtual_network_network_id);
    expect(b.virtual_network_network_id).not.toBe(c.virtual_network_network_id);
    db.close();
  });

  it("reports committed changes to listeners, and nothing for a rolled-back transaction", () => {
    const dir = tempDir("tfmesh-store-");
    dirs.push(dir);
    const { store, db } = newStore(dir);
    const seen: string[] = [];
    const off = store.onChange((e) => seen.push(`${e.op} ${e.type}`));
    const red = store.create("virtual-network", vn("red"));
    store.update("virtual-network", red.uuid, { display_name: "Red" });
    expect(() =>
      store.transaction(() => {
        store.create("virtual-machine", { fq_name: ["doomed"] });
        store.create("instance-ip", { fq_name: ["x"], virtual_network_refs: [{ uuid: red.uuid }], instance_ip_address: "10.9.9.9" });
      }),
    ).toThrow(TfError);
    expect(() => store.fqNameToId("virtual-machine", ["doomed"])).toThrow(/not found/);
    store.delete("virtual-network", red.uuid);
    off();
    store.create("virtual-machine", { fq_name: ["after-off"] });
    expect(seen).toEqual(["create virtual-network", "update virtual-network", "delete virtual-network"]);
    db.close();
  });

  it("updates a virtual-router's underlay address and adds routers when the node list changes", () => {
    const dir = tempDir("tfmesh-store-");
    dirs.push(dir);
    newStore(dir).db.close();
    const db = openDb(dir);
    const store = new ConfigStore(db, { nodes: [{ name: "compute-1", ip: "172.31.0.99" }, { name: "compute-9", ip: "172.31.0.19" }] });
    const vr = store.fqNameToId("virtual-router", ["default-global-system-config", "compute-1"]);
    expect(store.read("virtual-router", vr).virtual_router_ip_address).toBe("172.31.0.99");
    expect(store.fqNameToId("virtual-router", ["default-global-system-config", "compute-9"])).toBeTruthy();
    db.close();
  });
});
