// Neutron v2.0 backed by the TF store as TF's Neutron plugin does it: one object, two APIs.
// Also Glance's image list.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startLab, stopLab, token } from "./tf-harness.ts";
import type { Lab } from "./tf-harness.ts";

let lab: Lab;
let H: Record<string, string>;
const q = (method: string, path: string, body?: unknown) => call(method, `${lab.url.neutron}${path}`, body, H);
const tf = (method: string, path: string, body?: unknown) => call(method, `${lab.url.tf}${path}`, body, H);

async function network(name: string, cidr?: string) {
  const n = await q("POST", "/v2.0/networks", { network: { name, admin_state_up: true } });
  expect(n.status, n.text).toBe(201);
  let s: any;
  if (cidr) {
    const r = await q("POST", "/v2.0/subnets", { subnet: { network_id: n.json.network.id, ip_version: 4, cidr, name: `${name}-sub` } });
    expect(r.status, r.text).toBe(201);
    s = r.json.subnet;
  }
  return { net: n.json.network, subnet: s };
}

beforeAll(async () => {
  lab = await startLab();
  H = { "x-auth-token": await token(lab) };
});
afterAll(async () => {
  await stopLab(lab);
});

describe("neutron networks and subnets", () => {
  it("publishes versions and extensions", async () => {
    expect((await call("GET", `${lab.url.neutron}/`)).json.versions[0]).toMatchObject({ id: "v2.0", status: "CURRENT" });
    const ext = (await q("GET", "/v2.0/extensions")).json.extensions.map((e: { alias: string }) => e.alias);
    expect(ext).toEqual(expect.arrayContaining(["binding", "port-security", "external-net"]));
  });

  it("creates a network with Neutron's fields, finds it by name, updates and deletes it", async () => {
    const { net } = await network("q-net");
    expect(net).toMatchObject({ name: "q-net", status: "ACTIVE", admin_state_up: true, shared: false, "router:external": false, subnets: [], port_security_enabled: true, mtu: 1500 });
    expect(net.project_id).toBe(lab.os.model.neutron.projectId);
    expect(net.tenant_id).toBe(net.project_id);
    const found = await q("GET", "/v2.0/networks?name=q-net");
    expect(found.json.networks.map((n: { id: string }) => n.id)).toEqual([net.id]);
    const fields = await q("GET", `/v2.0/networks?name=q-net&fields=id&fields=name`);
    expect(fields.json.networks).toEqual([{ id: net.id, name: "q-net" }]);
    const upd = await q("PUT", `/v2.0/networks/${net.id}`, { network: { name: "q-net-2", admin_state_up: false } });
    expect(upd.json.network).toMatchObject({ name: "q-net-2", admin_state_up: false, status: "DOWN" });
    expect((await q("DELETE", `/v2.0/networks/${net.id}`)).status).toBe(204);
    const gone = await q("GET", `/v2.0/networks/${net.id}`);
    expect(gone.status).toBe(404);
    expect(gone.json).toEqual({ NeutronError: { type: "NetworkNotFound", message: `Network ${net.id} could not be found.`, detail: "" } });
  });

  it("allows two networks with one name (TF keeps fq_names unique behind the scenes)", async () => {
    const a = await network("twin");
    const b = await network("twin");
    expect(a.net.id).not.toBe(b.net.id);
    expect((await q("GET", "/v2.0/networks?name=twin")).json.networks).toHaveLength(2);
  });

  it("creates subnets as ipam subnets of the VN, with Neutron's defaults", async () => {
    const { net, subnet } = await network("q-sub", "10.40.0.0/24");
    expect(subnet).toMatchObject({ network_id: net.id, cidr: "10.40.0.0/24", ip_version: 4, gateway_ip: "10.40.0.1", enable_dhcp: true, name: "q-sub-sub" });
    expect(subnet.allocation_pools).toEqual([{ start: "10.40.0.2", end: "10.40.0.254" }]);
    const vn = (await tf("GET", `/virtual-network/${net.id}`)).json["virtual-network"];
    const ipamSubnet = vn.network_ipam_refs[0].attr.ipam_subnets[0];
    expect(ipamSubnet).toMatchObject({ subnet_uuid: subnet.id, default_gateway: "10.40.0.1", addr_from_start: true });
    expect((await q("GET", `/v2.0/networks/${net.id}`)).json.network.subnets).toEqual([subnet.id]);
    expect((await q("GET", `/v2.0/subnets?network_id=${net.id}`)).json.subnets.map((s: { id: string }) => s.id)).toEqual([subnet.id]);
    const noGw = await q("POST", "/v2.0/subnets", { subnet: { network_id: net.id, ip_version: 4, cidr: "10.41.0.0/24", gateway_ip: null } });
    expect(noGw.json.subnet.gateway_ip).toBeNull();
    const renamed = await q("PUT", `/v2.0/subnets/${subnet.id}`, { subnet: { name: "renamed", dns_nameservers: ["10.0.0.53"] } });
    expect(renamed.json.subnet).toMatchObject({ name: "renamed", dns_nameservers: ["10.0.0.53"], gateway_ip: "10.40.0.1" });
  });

  it("refuses bad and overlapping subnets with NeutronError bodies", async () => {
    const { net } = await network("q-bad", "10.42.0.0/24");
    const bad = await q("POST", "/v2.0/subnets", { subnet: { network_id: net.id, ip_version: 4, cidr: "10.42.0.0/33" } });
    expect(bad.status).toBe(400);
    expect(bad.json.NeutronError.type).toBe("InvalidInput");
    expect(bad.json.NeutronError.message).toMatch(/larger than 32/);
    const gw = await q("POST", "/v2.0/subnets", { subnet: { network_id: net.id, ip_version: 4, cidr: "10.43.0.0/24", gateway_ip: "10.99.0.1" } });
    expect(gw.status).toBe(400);
    expect(gw.json.NeutronError.message).toMatch(/gateway: 10.99.0.1 is not a host address of 10.43.0.0\/24/);
    const overlap = await q("POST", "/v2.0/subnets", { subnet: { network_id: net.id, ip_version: 4, cidr: "10.42.0.0/16" } });
    expect(overlap.status).toBe(400);
    expect(overlap.json.NeutronError.message).toMatch(/Overlapping addresses/);
    const missing = await q("POST", "/v2.0/subnets", { subnet: { network_id: "6b0f5d1e-aaaa-4bbb-8ccc-ddddeeeeffff", cidr: "10.44.0.0/24", ip_version: 4 } });
    expect(missing.status).toBe(404);
    expect(missing.json.NeutronError.type).toBe("NetworkNotFound");
  });
});

describe("neutron ports", () => {
  it("creates a port as a VMI with an instance-ip, and keeps device and binding on the VMI", async () => {
    const { net, subnet } = await network("q-port", "10.50.0.0/24");
    const r = await q("POST", "/v2.0/ports", {
      port: { network_id: net.id, name: "p1", fixed_ips: [{ subnet_id: subnet.id, ip_address: "10.50.0.20" }], device_owner: "compute:nova", "binding:host_id": "compute-2" },
    });
    expect(r.status, r.text).toBe(201);
    const port = r.json.port;
    expect(port).toMatchObject({ name: "p1", network_id: net.id, fixed_ips: [{ subnet_id: subnet.id, ip_address: "10.50.0.20" }], device_owner: "compute:nova", "binding:host_id": "compute-2", "binding:vif_type": "vrouter" });
    expect(port.mac_address).toMatch(/^02:/);
    const vmi = (await tf("GET", `/virtual-machine-interface/${port.id}`)).json["virtual-machine-interface"];
    expect(vmi.virtual_machine_interface_mac_addresses.mac_address).toEqual([port.mac_address]);
    expect(vmi.virtual_machine_interface_device_owner).toBe("compute:nova");
    expect(vmi.virtual_machine_interface_bindings.key_value_pair).toContainEqual({ key: "host_id", value: "compute-2" });
    expect(vmi.virtual_network_refs[0].uuid).toBe(net.id);
    const iip = (await tf("GET", `/instance-ip/${vmi.instance_ip_back_refs[0].uuid}`)).json["instance-ip"];
    expect(iip.instance_ip_address).toBe("10.50.0.20");
    const auto = await q("POST", "/v2.0/ports", { port: { network_id: net.id } });
    expect(auto.json.port.fixed_ips).toEqual([{ subnet_id: subnet.id, ip_address: "10.50.0.3" }]);
    const dup = await q("POST", "/v2.0/ports", { port: { network_id: net.id, fixed_ips: [{ ip_address: "10.50.0.20" }] } });
    expect(dup.status).toBe(409);
    expect(dup.json.NeutronError.type).toBe("IpAddressInUse");
    const byIp = await q("GET", `/v2.0/ports?fixed_ips=ip_address%3D10.50.0.20`);
    expect(byIp.json.ports.map((p: { id: string }) => p.id)).toEqual([port.id]);
  });

  it("binds a device (creating its VM in TF) and unbinds it on update", async () => {
    const { net } = await network("q-bind", "10.51.0.0/24");
    const port = (await q("POST", "/v2.0/ports", { port: { network_id: net.id } })).json.port;
    const device = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
    const bound = await q("PUT", `/v2.0/ports/${port.id}`, { port: { device_id: device, device_owner: "compute:nova", "binding:host_id": "compute-1" } });
    expect(bound.json.port).toMatchObject({ device_id: device, "binding:host_id": "compute-1", status: "ACTIVE" });
    expect((await tf("GET", `/virtual-machine/${device}`)).status).toBe(200);
    expect((await q("GET", `/v2.0/ports?device_id=${device}`)).json.ports.map((p: { id: string }) => p.id)).toEqual([port.id]);
    const unbound = await q("PUT", `/v2.0/ports/${port.id}`, { port: { device_id: "", device_owner: "", "binding:host_id": "" } });
    expect(unbound.json.port).toMatchObject({ device_id: "", status: "DOWN", "binding:vif_type": "unbound" });
    expect((await tf("GET", `/virtual-machine/${device}`)).status).toBe(404);
    expect((await q("DELETE", `/v2.0/ports/${port.id}`)).status).toBe(204);
    expect((await tf("GET", `/virtual-machine-interface/${port.id}`)).status).toBe(404);
  });

  it("409s deleting a network that still has ports and a subnet with addresses in use", async () => {
    const { net, subnet } = await network("q-inuse", "10.52.0.0/24");
    const port = (await q("POST", "/v2.0/ports", { port: { network_id: net.id } })).json.port;
    const n = await q("DELETE", `/v2.0/networks/${net.id}`);
    expect(n.status).toBe(409);
    expect(n.json.NeutronError.type).toBe("NetworkInUse");
    const s = await q("DELETE", `/v2.0/subnets/${subnet.id}`);
    expect(s.status).toBe(409);
    expect(s.json.NeutronError.type).toBe("SubnetInUse");
    await q("DELETE", `/v2.0/ports/${port.id}`);
    expect((await q("DELETE", `/v2.0/subnets/${subnet.id}`)).status).toBe(204);
    expect((await q("DELETE", `/v2.0/networks/${net.id}`)).status).toBe(204);
    expect((await tf("GET", `/virtual-network/${net.id}`)).status).toBe(404);
  });
});

describe("one object, two APIs", () => {
  it("shows TF-created networks, subnets and ports in Neutron, and Neutron-created ones in TF", async () => {
    const vn = await tf("POST", "/virtual-networks", {
      "virtual-network": {
        fq_name: ["default-domain", "admin", "from-tf"],
        parent_type: "project",
        network_ipam_refs: [{ to: ["default-domain", "default-project", "default-network-ipam"], attr: { ipam_subnets: [{ subnet: { ip_prefix: "10.60.0.0", ip_prefix_len: 24 }, addr_from_start: true }] } }],
      },
    });
    const vnUuid = vn.json["virtual-network"].uuid;
    const asNet = (await q("GET", `/v2.0/networks/${vnUuid}`)).json.network;
    expect(asNet.name).toBe("from-tf");
    expect(asNet.subnets).toHaveLength(1);
    const sub = (await q("GET", `/v2.0/subnets/${asNet.subnets[0]}`)).json.subnet;
    expect(sub).toMatchObject({ cidr: "10.60.0.0/24", gateway_ip: "10.60.0.1" });
    const vmi = await tf("POST", "/virtual-machine-interfaces", {
      "virtual-machine-interface": { fq_name: ["default-domain", "admin", "tf-port"], parent_type: "project", virtual_network_refs: [{ uuid: vnUuid }] },
    });
    const vmiUuid = vmi.json["virtual-machine-interface"].uuid;
    await tf("POST", "/instance-ips", { "instance-ip": { fq_name: ["tf-port-ip"], virtual_network_refs: [{ uuid: vnUuid }], virtual_machine_interface_refs: [{ uuid: vmiUuid }] } });
    const asPort = (await q("GET", `/v2.0/ports/${vmiUuid}`)).json.port;
    expect(asPort).toMatchObject({ network_id: vnUuid, fixed_ips: [{ subnet_id: sub.id, ip_address: "10.60.0.3" }] });

    const { net } = await network("from-neutron", "10.61.0.0/24");
    const tfView = (await tf("GET", `/virtual-network/${net.id}`)).json["virtual-network"];
    expect(tfView.display_name).toBe("from-neutron");
    expect(tfView.fq_name).toEqual(["default-domain", "admin", "from-neutron"]);
    expect(typeof tfView.virtual_network_network_id).toBe("number");
    const listed = (await tf("GET", "/virtual-networks?parent_fq_name_str=default-domain:admin&parent_type=project")).json["virtual-networks"].map((x: { uuid: string }) => x.uuid);
    expect(listed).toContain(net.id);
  });
});

describe("glance", () => {
  it("lists versions and the built-in image, by name and by id", async () => {
    const root = await call("GET", `${lab.url.glance}/`);
    expect(root.status).toBe(300);
    expect(root.json.versions[0].status).toBe("CURRENT");
    const byName = await call("GET", `${lab.url.glance}/v2/images?name=cirros-0.6.2`, undefined, H);
    expect(byName.json.images).toHaveLength(1);
    const image = byName.json.images[0];
    expect(image).toMatchObject({ name: "cirros-0.6.2", status: "active", visibility: "public" });
    expect((await call("GET", `${lab.url.glance}/v2/images/${image.id}`, undefined, H)).json.id).toBe(image.id);
    expect((await call("GET", `${lab.url.glance}/v2/images?name=ubuntu`, undefined, H)).json.images).toEqual([]);
    expect((await call("GET", `${lab.url.glance}/v2/images/6b0f5d1e-aaaa-4bbb-8ccc-ddddeeeeffff`, undefined, H)).status).toBe(404);
  });
});
