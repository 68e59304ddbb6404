// The TF config API as a client written for contrail-api sees it: wire shapes, server-computed
// values, referential integrity and TF's error codes and messages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startLab, stopLab, token } from "./tf-harness.ts";
import type { Lab } from "./tf-harness.ts";

let lab: Lab;
let tf: string;
let H: Record<string, string>;
const ADMIN = ["default-domain", "admin"];
const IPAM = ["default-domain", "default-project", "default-network-ipam"];

const post = (path: string, body: unknown) => call("POST", `${tf}${path}`, body, H);
const get = (path: string) => call("GET", `${tf}${path}`, undefined, H);
const put = (path: string, body: unknown) => call("PUT", `${tf}${path}`, body, H);
const del = (path: string) => call("DELETE", `${tf}${path}`, undefined, H);

function vnBody(name: string, subnets: Array<Record<string, unknown>> = [], extra: Record<string, unknown> = {}) {
  return {
    "virtual-network": {
      fq_name: [...ADMIN, name],
      parent_type: "project",
      ...(subnets.length ? { network_ipam_refs: [{ to: IPAM, attr: { ipam_subnets: subnets } }] } : {}),
      ...extra,
    },
  };
}
const subnet = (prefix: string, len: number, more: Record<string, unknown> = {}) => ({ subnet: { ip_prefix: prefix, ip_prefix_len: len }, ...more });

async function createVn(name: string, subnets: Array<Record<string, unknown>> = [], extra: Record<string, unknown> = {}) {
  const r = await post("/virtual-networks", vnBody(name, subnets, extra));
  expect(r.status, r.text).toBe(200);
  return (await get(`/virtual-network/${r.json["virtual-network"].uuid}`)).json["virtual-network"];
}

async function createVmi(name: string, vnUuid: string, extra: Record<string, unknown> = {}) {
  const r = await post("/virtual-machine-interfaces", {
    "virtual-machine-interface": { fq_name: [...ADMIN, name], parent_type: "project", virtual_network_refs: [{ uuid: vnUuid }], ...extra },
  });
  expect(r.status, r.text).toBe(200);
  return (await get(`/virtual-machine-interface/${r.json["virtual-machine-interface"].uuid}`)).json["virtual-machine-interface"];
}

async function createIip(vnUuid: string, extra: Record<string, unknown> = {}) {
  const name = `iip-${Math.random().toString(16).slice(2)}`;
  return post("/instance-ips", { "instance-ip": { fq_name: [name], virtual_network_refs: [{ uuid: vnUuid }], ...extra } });
}

beforeAll(async () => {
  lab = await startLab();
  tf = lab.url.tf;
  H = { "x-auth-token": await token(lab) };
});
afterAll(async () => {
  await stopLab(lab);
});

describe("home page and seeded objects", () => {
  it("lists collection, resource-base and action links the way vnc_api reads them", async () => {
    const r = await get("/");
    expect(r.status).toBe(200);
    expect(r.json.href).toBe(tf);
    const links = r.json.links.map((l: { link: Record<string, string> }) => l.link);
    expect(links).toContainEqual({ rel: "collection", href: `${tf}/virtual-networks`, name: "virtual-network" });
    expect(links).toContainEqual({ rel: "resource-base", href: `${tf}/virtual-network`, name: "virtual-network" });
    for (const name of ["name-to-id", "id-to-name", "ref-update", "list-bulk-collection", "prop-collection-update"]) {
      expect(links.some((l: Record<string, string>) => l.rel === "action" && l.name === name)).toBe(true);
    }
  });

  it("starts with the default domain, project, ipam, global config, admin project and one vrouter per node", async () => {
    const id = async (type: string, fq: string[]) => (await post("/fqname-to-id", { type, fq_name: fq })).json?.uuid;
    expect(await id("domain", ["default-domain"])).toBeTruthy();
    expect(await id("project", ["default-domain", "default-project"])).toBeTruthy();
    expect(await id("network-ipam", IPAM)).toBeTruthy();
    expect(await id("project", ADMIN)).toBeTruthy();
    const gsc = await get(`/global-system-config/${await id("global-system-config", ["default-global-system-config"])}`);
    expect(gsc.json["global-system-config"].autonomous_system).toBe(64512);
    const vrs = await get("/virtual-routers?detail=true");
    expect(vrs.json["virtual-routers"].map((v: any) => [v["virtual-router"].name, v["virtual-router"].virtual_router_ip_address])).toEqual([
      ["compute-1", "172.31.0.10"],
      ["compute-2", "172.31.0.11"],
      ["k8s-1", "172.31.0.12"],
    ]);
  });
});

describe("virtual networks", () => {
  it("answers a create with the identity of the new object and serves every common field on read", async () => {
    const r = await post("/virtual-networks", vnBody("vn-shape"));
    expect(r.status).toBe(200);
    const created = r.json["virtual-network"];
    expect(Object.keys(created).sort()).toEqual(["fq_name", "href", "name", "parent_href", "parent_type", "parent_uuid", "uuid"]);
    expect(created.href).toBe(`${tf}/virtual-network/${created.uuid}`);
    const vn = (await get(`/virtual-network/${created.uuid}`)).json["virtual-network"];
    expect(vn).toMatchObject({ uuid: created.uuid, name: "vn-shape", fq_name: [...ADMIN, "vn-shape"], parent_type: "project", display_name: "vn-shape" });
    expect(vn.parent_href).toBe(`${tf}/project/${created.parent_uuid}`);
    expect(vn.id_perms).toMatchObject({ enable: true, user_visible: true });
    expect(typeof vn.id_perms.uuid.uuid_mslong).toBe("number");
    expect(vn.perms2).toMatchObject({ owner_access: 7, global_access: 0, share: [] });
    expect(vn.annotations).toEqual({ key_value_pair: [] });
  });

  it("assigns network ids from the pool and fills gateway, DNS and subnet uuid (both directions)", async () => {
    const a = await createVn("vn-ids-a", [subnet("10.10.1.0", 24)]);
    const b = await createVn("vn-ids-b", [subnet("10.10.2.0", 24, { addr_from_start: true })]);
    expect(b.virtual_network_network_id).toBe(a.virtual_network_network_id + 1);
    const sa = a.network_ipam_refs[0].attr.ipam_subnets[0];
    expect(sa).toMatchObject({ default_gateway: "10.10.1.254", dns_server_address: "10.10.1.253" });
    expect(sa.subnet_uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.network_ipam_refs[0].attr.ipam_subnets[0]).toMatchObject({ default_gateway: "10.10.2.1", dns_server_address: "10.10.2.2" });
    expect(a.network_ipam_refs[0].to).toEqual(IPAM);
  });

  it("refuses a client-chosen network id (403) and a changed one on update", async () => {
    const r = await post("/virtual-networks", vnBody("vn-setid", [], { virtual_network_network_id: 77 }));
    expect(r.status).toBe(403);
    expect(r.text).toBe("Cannot set the virtual network ID");
    expect(r.headers.get("content-type")).toMatch(/text\/plain/);
    const vn = await createVn("vn-upd-id");
    const u = await put(`/virtual-network/${vn.uuid}`, { "virtual-network": { virtual_network_network_id: vn.virtual_network_network_id + 100 } });
    expect(u.status).toBe(403);
  });

  it("keeps gateway, DNS and subnet uuid when the subnets are rewritten, and refuses overlaps and outside gateways", async () => {
    const vn = await createVn("vn-keep", [subnet("10.11.0.0", 24)]);
    const before = vn.network_ipam_refs[0].attr.ipam_subnets[0];
    const u = await put(`/virtual-network/${vn.uuid}`, { "virtual-network": { network_ipam_refs: [{ to: IPAM, attr: { ipam_subnets: [subnet("10.11.0.0", 24), subnet("10.11.1.0", 24)] } }] } });
    expect(u.status, u.text).toBe(200);
    const after = (await get(`/virtual-network/${vn.uuid}`)).json["virtual-network"].network_ipam_refs[0].attr.ipam_subnets;
    expect(after[0]).toMatchObject({ subnet_uuid: before.subnet_uuid, default_gateway: before.default_gateway });
    expect(after).toHaveLength(2);
    const overlap = await post("/virtual-networks", vnBody("vn-overlap", [subnet("10.12.0.0", 16), subnet("10.12.3.0", 24)]));
    expect(overlap.status).toBe(400);
    expect(overlap.text).toMatch(/^Overlapping addresses/);
    const gw = await post("/virtual-networks", vnBody("vn-gw", [subnet("10.13.0.0", 24, { default_gateway: "10.14.0.1" })]));
    expect(gw.status).toBe(400);
    expect(gw.text).toBe("gateway Ip 10.14.0.1 out of cidr: 10.13.0.0/24");
    const pool = await post("/virtual-networks", vnBody("vn-pool", [subnet("10.13.0.0", 24, { allocation_pools: [{ start: "10.13.0.10", end: "10.13.1.5" }] })]));
    expect(pool.status).toBe(400);
    expect(pool.text).toMatch(/allocation pool .* out of cidr/);
  });

  it("409s a duplicate fq_name with TF's message", async () => {
    const vn = await createVn("vn-dup");
    const r = await post("/virtual-networks", vnBody("vn-dup"));
    expect(r.status).toBe(409);
    expect(r.text).toBe(`['default-domain', 'admin', 'vn-dup'] already exists with uuid: ${vn.uuid}`);
  });

  it("honours a client uuid, refuses a malformed or taken one", async () => {
    const uuid = "0b5a7d3c-1111-4222-8333-444455556666";
    const ok = await post("/virtual-networks", vnBody("vn-uuid", [], { uuid }));
    expect(ok.json["virtual-network"].uuid).toBe(uuid);
    expect((await post("/virtual-networks", vnBody("vn-uuid2", [], { uuid: "nope" }))).text).toBe("Invalid UUID format: nope");
    expect((await post("/virtual-networks", vnBody("vn-uuid3", [], { uuid }))).status).toBe(409);
  });
});

describe("bad requests name the problem", () => {
  it("400s unknown and mistyped fields, naming the field", async () => {
    const unknown = await post("/virtual-networks", vnBody("vn-unknown", [], { colour: "red" }));
    expect(unknown.status).toBe(400);
    expect(unknown.text).toMatch(/unknown field 'colour' for virtual-network/);
    const typed = await post("/virtual-networks", vnBody("vn-typed", [], { is_shared: "yes" }));
    expect(typed.status).toBe(400);
    expect(typed.text).toMatch(/is_shared: true\/false expected instead of yes/);
    const nested = await post("/virtual-networks", vnBody("vn-nested", [], { virtual_network_properties: { forwarding_mode: "l9" } }));
    expect(nested.status).toBe(400);
    expect(nested.text).toMatch(/virtual_network_properties.forwarding_mode: value must be one of/);
    const attr = await post("/virtual-networks", vnBody("vn-attr", [{ subnet: { ip_prefix: "10.1.1.0", ip_prefix_len: "24" } }]));
    expect(attr.status).toBe(400);
    expect(attr.text).toMatch(/network_ipam_refs\[0\].attr.ipam_subnets\[0\].subnet.ip_prefix_len: integer value expected/);
  });

  it("400s a missing parent, an unknown reference and a wrong fq_name length", async () => {
    const parent = await post("/virtual-networks", { "virtual-network": { fq_name: ["default-domain", "nobody", "x"], parent_type: "project" } });
    expect(parent.status).toBe(400);
    expect(parent.text).toBe("Parent ['default-domain', 'nobody'] type project does not exist");
    const ref = await post("/virtual-machine-interfaces", {
      "virtual-machine-interface": { fq_name: [...ADMIN, "vmi-badref"], parent_type: "project", virtual_network_refs: [{ to: [...ADMIN, "missing"] }] },
    });
    expect(ref.status).toBe(400);
    expect(ref.text).toMatch(/^Unknown reference in resource create/);
    const len = await post("/virtual-machines", { "virtual-machine": { fq_name: ["a", "b"] } });
    expect(len.status).toBe(400);
    expect(len.text).toBe("Invalid fq-name of an object with no parent: ['a', 'b']");
    expect((await post("/virtual-networks", { "virtual-network": { parent_type: "project" } })).text).toBe("Bad Request, no fq_name in POST body");
  });

  it("400s malformed JSON and 413s an oversized body without crashing", async () => {
    const bad = await call("POST", `${tf}/virtual-networks`, "{not json", H);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/malformed JSON/);
    const big = await call("POST", `${tf}/virtual-networks`, JSON.stringify({ "virtual-network": { fq_name: ["x"], display_name: "y".repeat(2 * 1024 * 1024) } }), H);
    expect(big.status).toBe(413);
    expect((await get("/")).status).toBe(200);
  });

  it("404s unknown ids and unknown types in TF's words", async () => {
    const missing = "6b0f5d1e-aaaa-4bbb-8ccc-ddddeeeeffff";
    expect((await get(`/virtual-network/${missing}`)).status).toBe(404);
    const t = await get(`/frobnicator/${missing}`);
    expect(t.status).toBe(404);
    expect(t.text).toBe("Invalid Contrail resource type:'frobnicator'");
    expect((await get("/frobnicators")).text).toBe("Invalid Contrail resource type:'frobnicator'");
    const project = (await post("/fqname-to-id", { type: "project", fq_name: ADMIN })).json.uuid;
    const wrongType = await get(`/virtual-network/${project}`);
    expect(wrongType.status).toBe(404);
    expect(wrongType.text).toBe(`No virtual-network object found for id ${project}`);
  });
});

describe("ports and addresses", () => {
  it("derives the VMI MAC from its uuid and requires a virtual network", async () => {
    const vn = await createVn("vn-mac", [subnet("10.20.0.0", 24)]);
    const vmi = await createVmi("vmi-mac", vn.uuid);
    const u: string = vmi.uuid;
    expect(vmi.virtual_machine_interface_mac_addresses.mac_address).toEqual([`02:${u.slice(0, 2)}:${u.slice(2, 4)}:${u.slice(4, 6)}:${u.slice(6, 8)}:${u.slice(9, 11)}`]);
    const noVn = await post("/virtual-machine-interfaces", { "virtual-machine-interface": { fq_name: [...ADMIN, "vmi-novn"], parent_type: "project" } });
    expect(noVn.status).toBe(400);
    expect(noVn.text).toMatch(/virtual_network_refs is required/);
  });

  it("allocates top-down by default, bottom-up with addr_from_start, skipping gateway and DNS", async () => {
    const down = await createVn("vn-down", [subnet("10.21.0.0", 24)]);
    const up = await createVn("vn-up", [subnet("10.22.0.0", 24, { addr_from_start: true })]);
    const a1 = (await createIip(down.uuid)).json["instance-ip"].uuid;
    const iip = (await get(`/instance-ip/${a1}`)).json["instance-ip"];
    expect(iip.instance_ip_address).toBe("10.21.0.252");
    expect(iip.subnet_uuid).toBe(down.network_ipam_refs[0].attr.ipam_subnets[0].subnet_uuid);
    expect(iip.instance_ip_subnet).toEqual({ ip_prefix: "10.21.0.0", ip_prefix_len: 24 });
    expect(iip.instance_ip_family).toBe("v4");
    const b = (await get(`/instance-ip/${(await createIip(up.uuid)).json["instance-ip"].uuid}`)).json["instance-ip"];
    const c = (await get(`/instance-ip/${(await createIip(up.uuid)).json["instance-ip"].uuid}`)).json["instance-ip"];
    expect([b.instance_ip_address, c.instance_ip_address]).toEqual(["10.22.0.3", "10.22.0.4"]);
  });

  it("honours a requested address, 409s one in use, 400s the gateway for a VM port, and frees on delete", async () => {
    const vn = await createVn("vn-req", [subnet("10.23.0.0", 24)]);
    const first = await createIip(vn.uuid, { instance_ip_address: "10.23.0.50" });
    expect(first.status).toBe(200);
    expect((await get(`/instance-ip/${first.json["instance-ip"].uuid}`)).json["instance-ip"].instance_ip_address).toBe("10.23.0.50");
    const again = await createIip(vn.uuid, { instance_ip_address: "10.23.0.50" });
    expect(again.status).toBe(409);
    expect(again.text).toBe("IP address already in use");
    const vm = await post("/virtual-machines", { "virtual-machine": { fq_name: ["vm-gw"], server_type: "virtual-server" } });
    const vmi = await createVmi("vmi-gw", vn.uuid, { virtual_machine_refs: [{ uuid: vm.json["virtual-machine"].uuid }] });
    const gw = await createIip(vn.uuid, { instance_ip_address: "10.23.0.254", virtual_machine_interface_refs: [{ uuid: vmi.uuid }] });
    expect(gw.status).toBe(400);
    expect(gw.text).toBe("Gateway IP cannot be used by VM port");
    expect((await del(`/instance-ip/${first.json["instance-ip"].uuid}`)).status).toBe(200);
    expect((await createIip(vn.uuid, { instance_ip_address: "10.23.0.50" })).status).toBe(200);
  });

  it("400s when the subnet is exhausted", async () => {
    const vn = await createVn("vn-small", [subnet("10.24.0.0", 29)]);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await createIip(vn.uuid);
      expect(r.status, r.text).toBe(200);
      got.push((await get(`/instance-ip/${r.json["instance-ip"].uuid}`)).json["instance-ip"].instance_ip_address);
    }
    expect(got).toEqual(["10.24.0.4", "10.24.0.3", "10.24.0.2", "10.24.0.1"]);
    const full = await createIip(vn.uuid);
    expect(full.status).toBe(400);
    expect(full.text).toBe("Virtual-Network(['default-domain', 'admin', 'vn-small']) has exhausted subnet(['10.24.0.0/29'])");
  });

  it("gives 50 concurrent instance-ip creates 50 distinct addresses", async () => {
    const vn = await createVn("vn-race", [subnet("10.25.0.0", 24)]);
    const replies = await Promise.all(Array.from({ length: 50 }, () => createIip(vn.uuid)));
    expect(replies.map((r) => r.status)).toEqual(Array(50).fill(200));
    const addrs = await Promise.all(replies.map(async (r) => (await get(`/instance-ip/${r.json["instance-ip"].uuid}`)).json["instance-ip"].instance_ip_address));
    expect(new Set(addrs).size).toBe(50);
  });

  it("gives 20 concurrent network creates 20 distinct network ids", async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => post("/virtual-networks", vnBody(`vn-par-${i}`))));
    const ids = await Promise.all(replies.map(async (r) => (await get(`/virtual-network/${r.json["virtual-network"].uuid}`)).json["virtual-network"].virtual_network_network_id));
    expect(new Set(ids).size).toBe(20);
  });
});

describe("reads, lists and helpers", () => {
  let vn: any;
  let vmi: any;
  beforeAll(async () => {
    vn = await createVn("vn-read", [subnet("10.30.0.0", 24)]);
    vmi = await createVmi("vmi-read", vn.uuid);
  });

  it("includes back refs and children unless excluded, and hrefs unless excluded", async () => {
    const full = (await get(`/virtual-network/${vn.uuid}`)).json["virtual-network"];
    expect(full.virtual_machine_interface_back_refs.map((r: any) => r.uuid)).toEqual([vmi.uuid]);
    const project = (await get(`/project/${vn.parent_uuid}`)).json.project;
    expect(project.virtual_networks.some((c: any) => c.uuid === vn.uuid)).toBe(true);
    expect(project.virtual_machine_interfaces.some((c: any) => c.uuid === vmi.uuid)).toBe(true);
    const slim = (await get(`/virtual-network/${vn.uuid}?exclude_back_refs=true&exclude_children=true&exclude_hrefs=true`)).json["virtual-network"];
    expect(slim.virtual_machine_interface_back_refs).toBeUndefined();
    expect(slim.href).toBeUndefined();
    expect(slim.network_ipam_refs[0].href).toBeUndefined();
    const fields = (await get(`/project/${vn.parent_uuid}?fields=virtual_networks`)).json.project;
    expect(fields.virtual_networks).toBeDefined();
    expect(fields.virtual_machine_interfaces).toBeUndefined();
  });

  it("lists by parent, back ref, uuids, fq_names, with detail, count, fields and filters", async () => {
    const byParent = (await get(`/virtual-networks?parent_id=${vn.parent_uuid}`)).json["virtual-networks"];
    expect(byParent.find((x: any) => x.uuid === vn.uuid)).toEqual({ uuid: vn.uuid, fq_name: vn.fq_name, href: `${tf}/virtual-network/${vn.uuid}` });
    const byFq = (await get(`/virtual-networks?parent_fq_name_str=default-domain:admin&parent_type=project`)).json["virtual-networks"];
    expect(byFq.length).toBe(byParent.length);
    expect((await get(`/virtual-machine-interfaces?back_ref_id=${vn.uuid}`)).json["virtual-machine-interfaces"].map((x: any) => x.uuid)).toEqual([vmi.uuid]);
    expect((await get(`/virtual-networks?obj_uuids=${vn.uuid}&detail=true`)).json["virtual-networks"][0]["virtual-network"].network_ipam_refs).toHaveLength(1);
    expect((await get(`/virtual-networks?fq_names=default-domain:admin:vn-read`)).json["virtual-networks"].map((x: any) => x.uuid)).toEqual([vn.uuid]);
    expect((await get(`/virtual-machine-interfaces?back_ref_id=${vn.uuid}&count=true`)).json).toEqual({ "virtual-machine-interfaces": { count: 1 } });
    const withField = (await get(`/virtual-networks?obj_uuids=${vn.uuid}&fields=virtual_network_network_id`)).json["virtual-networks"][0];
    expect(withField.virtual_network_network_id).toBe(vn.virtual_network_network_id);
    const filtered = (await get(`/virtual-networks?detail=true&filters=display_name=="vn-read"`)).json["virtual-networks"];
    expect(filtered.map((x: any) => x["virtual-network"].uuid)).toEqual([vn.uuid]);
    const bulk = await post("/list-bulk-collection", { type: "virtual-network", obj_uuids: vn.uuid, detail: false, count: false });
    expect(bulk.json["virtual-networks"].map((x: any) => x.uuid)).toEqual([vn.uuid]);
  });

  it("maps fq_names and uuids both ways", async () => {
    expect((await post("/fqname-to-id", { type: "virtual-network", fq_name: vn.fq_name })).json).toEqual({ uuid: vn.uuid });
    expect((await post("/id-to-fqname", { uuid: vn.uuid })).json).toEqual({ fq_name: vn.fq_name, type: "virtual-network" });
    const nf = await post("/fqname-to-id", { type: "virtual-network", fq_name: [...ADMIN, "ghost"] });
    expect(nf.status).toBe(404);
    expect(nf.text).toBe("Name ['default-domain', 'admin', 'ghost'] not found");
    const ni = await post("/id-to-fqname", { uuid: "6b0f5d1e-aaaa-4bbb-8ccc-000000000000" });
    expect(ni.status).toBe(404);
    expect(ni.text).toBe("UUID 6b0f5d1e-aaaa-4bbb-8ccc-000000000000 not found");
  });

  it("adds, re-attributes and deletes references with ref-update", async () => {
    const vm = (await post("/virtual-machines", { "virtual-machine": { fq_name: ["vm-ref"], server_type: "container" } })).json["virtual-machine"];
    const vr = (await post("/fqname-to-id", { type: "virtual-router", fq_name: ["default-global-system-config", "k8s-1"] })).json.uuid;
    const add = await post("/ref-update", { operation: "ADD", type: "virtual-router", uuid: vr, "ref-type": "virtual-machine", "ref-uuid": vm.uuid, attr: null });
    expect(add.json).toEqual({ uuid: vr });
    const read = (await get(`/virtual-router/${vr}`)).json["virtual-router"];
    expect(read.virtual_machine_refs.map((r: any) => r.to)).toEqual([["vm-ref"]]);
    expect((await get(`/virtual-machine/${vm.uuid}`)).json["virtual-machine"].virtual_router_back_refs[0].uuid).toBe(vr);
    const byFq = await post("/ref-update", { operation: "ADD", type: "virtual-router", uuid: vr, "ref-type": "virtual-machine", "ref-fq-name": ["vm-ref"] });
    expect(byFq.status).toBe(200);
    expect((await get(`/virtual-router/${vr}`)).json["virtual-router"].virtual_machine_refs).toHaveLength(1);
    expect((await del(`/virtual-machine/${vm.uuid}`)).status).toBe(409);
    await post("/ref-update", { operation: "DELETE", type: "virtual-router", uuid: vr, "ref-type": "virtual-machine", "ref-uuid": vm.uuid });
    expect((await get(`/virtual-router/${vr}`)).json["virtual-router"].virtual_machine_refs).toBeUndefined();
    expect((await del(`/virtual-machine/${vm.uuid}`)).status).toBe(200);
  });

  it("400s and 404s bad ref-updates", async () => {
    const vr = (await post("/fqname-to-id", { type: "virtual-router", fq_name: ["default-global-system-config", "k8s-1"] })).json.uuid;
    const missing = await post("/ref-update", { type: "virtual-router", uuid: vr, "ref-type": "virtual-machine" });
    expect(missing.status).toBe(400);
    expect(missing.text).toMatch(/^Bad Request: type\/uuid\/ref-type\/operation is null/);
    const op = await post("/ref-update", { operation: "MERGE", type: "virtual-router", uuid: vr, "ref-type": "virtual-machine", "ref-uuid": vr });
    expect(op.text).toBe("Bad Request: operation should be add or delete: MERGE");
    const ghost = await post("/ref-update", { operation: "ADD", type: "virtual-router", uuid: vr, "ref-type": "virtual-machine", "ref-uuid": "6b0f5d1e-aaaa-4bbb-8ccc-000000000001" });
    expect(ghost.status).toBe(404);
    const noObj = await post("/ref-update", { operation: "DELETE", type: "virtual-router", uuid: "6b0f5d1e-aaaa-4bbb-8ccc-000000000002", "ref-type": "virtual-machine", "ref-uuid": vr });
    expect(noObj.status).toBe(404);
  });

  it("409s deleting a parent with children or an object still referred to", async () => {
    const project = await post("/projects", { project: { fq_name: ["default-domain", "p-del"], parent_type: "domain" } });
    const pUuid = project.json.project.uuid;
    const child = await post("/virtual-networks", { "virtual-network": { fq_name: ["default-domain", "p-del", "n"], parent_type: "project" } });
    const r = await del(`/project/${pUuid}`);
    expect(r.status).toBe(409);
    expect(r.text).toBe(`Delete when children still present: ['${tf}/virtual-network/${child.json["virtual-network"].uuid}']`);
    const referred = await del(`/virtual-network/${vn.uuid}`);
    expect(referred.status).toBe(409);
    expect(referred.text).toBe(`Delete when resource still referred: ['${tf}/virtual-machine-interface/${vmi.uuid}']`);
    await del(`/virtual-network/${child.json["virtual-network"].uuid}`);
    expect((await del(`/project/${pUuid}`)).status).toBe(200);
    expect((await get(`/project/${pUuid}`)).status).toBe(404);
  });

  it("updates only what is sent and keeps annotations set through prop-collection-update", async () => {
    expect((await put(`/virtual-network/${vn.uuid}`, { "virtual-network": { display_name: "Red Net" } })).json["virtual-network"]).toEqual({ uuid: vn.uuid, href: `${tf}/virtual-network/${vn.uuid}` });
    await post("/prop-collection-update", { uuid: vn.uuid, updates: [{ field: "annotations", operation: "set", value: { key: "owner", value: "tests" } }] });
    const after = (await get(`/virtual-network/${vn.uuid}`)).json["virtual-network"];
    expect(after.display_name).toBe("Red Net");
    expect(after.annotations.key_value_pair).toEqual([{ key: "owner", value: "tests" }]);
    expect(after.network_ipam_refs).toHaveLength(1);
  });
});

describe("authentication", () => {
  it("401s without a valid token, in plain text", async () => {
    const r = await call("GET", `${tf}/virtual-networks`);
    expect(r.status).toBe(401);
    expect(r.headers.get("content-type")).toMatch(/text\/plain/);
    expect((await call("GET", `${tf}/virtual-networks`, undefined, { "x-auth-token": "forged" })).status).toBe(401);
  });
});

describe("hostile input", () => {
  it("400s inherited property names instead of accepting them", async () => {
    for (const key of ["toString", "constructor", "__proto__"]) {
      const r = await post("/virtual-networks", { "virtual-network": { fq_name: [...ADMIN, `vn-${key}`], parent_type: "project", [key]: { x: 1 } } });
      expect(r.status, key).toBe(400);
    }
    const nested = await post("/virtual-networks", vnBody("vn-nested-proto", [], { virtual_network_properties: { toString: "x" } }));
    expect(nested.status).toBe(400);
    expect(nested.text).toMatch(/does not have field toString/);
  });

  it("400s malformed filters, bodies of the wrong shape and non-list fq_names", async () => {
    expect((await get("/virtual-networks?filters=nokey")).status).toBe(400);
    expect((await post("/virtual-networks", [])).status).toBe(400);
    expect((await post("/virtual-networks", { "virtual-network": "red" })).status).toBe(400);
    expect((await post("/virtual-networks", { "virtual-network": { fq_name: "default-domain:admin:x" } })).status).toBe(400);
    expect((await post("/fqname-to-id", { type: "virtual-network", fq_name: "a:b" })).status).toBe(400);
    expect((await get("/")).status).toBe(200);
  });
});
