// Nova v2.1: microversions, flavors, and the server lifecycle through TF objects and the VmRuntime.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { call, startLab, stopLab, token } from "./tf-harness.ts";
import type { Lab } from "./tf-harness.ts";

let lab: Lab;
let H: Record<string, string>;
let image: string;
const MV = { "openstack-api-version": "compute 2.60", "x-openstack-nova-api-version": "2.60" };
const nova = (method: string, path: string, body?: unknown, headers: Record<string, string> = MV) => call(method, `${lab.url.nova}${path}`, body, { ...H, ...headers });
const q = (method: string, path: string, body?: unknown) => call(method, `${lab.url.neutron}${path}`, body, H);
const tf = (path: string) => call("GET", `${lab.url.tf}${path}`, undefined, H);

async function network(name: string, cidr: string) {
  const n = (await q("POST", "/v2.0/networks", { network: { name } })).json.network;
  const s = (await q("POST", "/v2.0/subnets", { subnet: { network_id: n.id, ip_version: 4, cidr } })).json.subnet;
  return { net: n, subnet: s };
}

async function boot(server: Record<string, unknown>, headers?: Record<string, string>) {
  return nova("POST", "/v2.1/servers", { server: { imageRef: image, flavorRef: "1", ...server } }, headers);
}

async function active(id: string) {
  return eventually(async () => {
    const s = (await nova("GET", `/v2.1/servers/${id}`)).json.server;
    return s.status === "BUILD" ? undefined : s;
  }, { what: `server ${id} to leave BUILD`, intervalMs: 10 });
}

beforeAll(async () => {
  lab = await startLab();
  H = { "x-auth-token": await token(lab) };
  image = (await call("GET", `${lab.url.glance}/v2/images?name=cirros-0.6.2`, undefined, H)).json.images[0].id;
});
afterAll(async () => {
  await stopLab(lab);
});

describe("nova versions", () => {
  it("advertises its microversion range and echoes the one asked for", async () => {
    const v = (await call("GET", `${lab.url.nova}/v2.1`)).json.version;
    expect(v).toMatchObject({ id: "v2.1", status: "CURRENT", min_version: "2.1" });
    expect(v.version).toMatch(/^2\.\d+$/);
    const r = await nova("GET", "/v2.1/flavors");
    expect(r.headers.get("openstack-api-version")).toBe("compute 2.60");
    expect(r.headers.get("x-openstack-nova-api-version")).toBe("2.60");
    const old = await nova("GET", "/v2.1/flavors", undefined, {});
    expect(old.headers.get("x-openstack-nova-api-version")).toBe("2.1");
  });

  it("406s versions outside the range and 400s malformed ones", async () => {
    const tooNew = await nova("GET", "/v2.1/flavors", undefined, { "openstack-api-version": "compute 2.999" });
    expect(tooNew.status).toBe(406);
    expect(tooNew.json.computeFault.message).toMatch(/Version 2.999 is not supported by the API/);
    expect((await nova("GET", "/v2.1/flavors", undefined, { "x-openstack-nova-api-version": "two" })).status).toBe(400);
  });
});

describe("flavors", () => {
  it("lists the default flavors, gets one by id, and 404s a name", async () => {
    const list = (await nova("GET", "/v2.1/flavors")).json.flavors.map((f: { name: string }) => f.name);
    expect(list).toEqual(expect.arrayContaining(["m1.tiny", "m1.small"]));
    const detail = (await nova("GET", "/v2.1/flavors/detail?is_public=None")).json.flavors.find((f: { name: string }) => f.name === "m1.tiny");
    expect(detail).toMatchObject({ id: "1", vcpus: 1, ram: 512, disk: 1, "os-flavor-access:is_public": true });
    expect((await nova("GET", "/v2.1/flavors/1")).json.flavor.name).toBe("m1.tiny");
    const byName = await nova("GET", "/v2.1/flavors/m1.tiny");
    expect(byName.status).toBe(404);
    expect(byName.json).toEqual({ itemNotFound: { code: 404, message: "Flavor m1.tiny could not be found." } });
  });
});

describe("servers", () => {
  let red: { net: any; subnet: any };
  beforeAll(async () => {
    red = await network("red", "10.1.1.0/24");
  });

  it("boots a server: 202, TF objects, BUILD -> ACTIVE through the VmRuntime, addresses by network name", async () => {
    const r = await boot({ name: "vm1", networks: [{ uuid: red.net.id }] });
    expect(r.status, r.text).toBe(202);
    const id = r.json.server.id;
    expect(r.headers.get("location")).toBe(`${lab.url.nova}/v2.1/servers/${id}`);
    expect(r.json.server).toMatchObject({ "OS-DCF:diskConfig": "MANUAL", security_groups: [{ name: "default" }] });
    const vm = (await tf(`/virtual-machine/${id}`)).json["virtual-machine"];
    expect(vm).toMatchObject({ uuid: id, server_type: "virtual-server", display_name: "vm1" });
    const s = await active(id);
    expect(s.status).toBe("ACTIVE");
    expect(s["OS-EXT-STS:vm_state"]).toBe("active");
    expect(s["OS-EXT-STS:power_state"]).toBe(1);
    const host = s["OS-EXT-SRV-ATTR:host"];
    expect(["compute-1", "compute-2"]).toContain(host);
    expect(s.addresses.red).toEqual([{ addr: "10.1.1.3", version: 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": expect.stringMatching(/^02:/) }]);
    const vr = (await call("POST", `${lab.url.tf}/fqname-to-id`, { type: "virtual-router", fq_name: ["default-global-system-config", host] }, H)).json.uuid;
    expect((await tf(`/virtual-router/${vr}`)).json["virtual-router"].virtual_machine_refs.map((x: { uuid: string }) => x.uuid)).toContain(id);
    const booted = lab.vm.boots.find((b) => b.serverId === id)!;
    const vn = (await tf(`/virtual-network/${red.net.id}`)).json["virtual-network"];
    expect(booted).toMatchObject({ name: "vm1", node: host });
    expect(booted.ports).toEqual([
      { vmiUuid: expect.any(String), vnUuid: red.net.id, networkId: vn.virtual_network_network_id, mac: s.addresses.red[0]["OS-EXT-IPS-MAC:mac_addr"], ip: "10.1.1.3", prefixLength: 24, gateway: "10.1.1.1" },
    ]);
    const port = (await q("GET", `/v2.0/ports?device_id=${id}`)).json.ports[0];
    expect(port).toMatchObject({ device_owner: "compute:nova", "binding:host_id": host, status: "ACTIVE" });
    const listed = (await nova("GET", "/v2.1/servers?name=vm1")).json.servers;
    expect(listed).toEqual([{ id, name: "vm1", links: expect.any(Array) }]);
    expect((await nova("GET", "/v2.1/servers/detail")).json.servers.some((x: { id: string }) => x.id === id)).toBe(true);
  });

  it("spreads servers over the least loaded node and lets an admin pin one with nova:<host>", async () => {
    const hosts: string[] = [];
    for (const name of ["spread-a", "spread-b"]) {
      const r = await boot({ name, networks: [{ uuid: red.net.id }] });
      hosts.push((await active(r.json.server.id))["OS-EXT-SRV-ATTR:host"]);
    }
    const all = (await nova("GET", "/v2.1/servers/detail")).json.servers.map((x: any) => x["OS-EXT-SRV-ATTR:host"]);
    const count = (h: string) => all.filter((x: string) => x === h).length;
    expect(Math.abs(count("compute-1") - count("compute-2"))).toBeLessThanOrEqual(1);
    const pinned = await boot({ name: "pinned", networks: [{ uuid: red.net.id }], availability_zone: "nova:compute-2" });
    expect((await active(pinned.json.server.id))["OS-EXT-SRV-ATTR:host"]).toBe("compute-2");
    const bogus = await boot({ name: "bogus", networks: [{ uuid: red.net.id }], availability_zone: "nova:compute-9" });
    expect(bogus.status).toBe(400);
    expect(bogus.json.badRequest.message).toMatch(/compute-9/);
  });

  it("uses a requested fixed ip, binds a given port and only unbinds it on delete", async () => {
    const fixed = await boot({ name: "fixed", networks: [{ uuid: red.net.id, fixed_ip: "10.1.1.77" }] });
    expect((await active(fixed.json.server.id)).addresses.red[0].addr).toBe("10.1.1.77");
    const taken = await boot({ name: "taken", networks: [{ uuid: red.net.id, fixed_ip: "10.1.1.77" }] });
    expect(taken.status).toBe(409);
    expect(taken.json.conflictingRequest.code).toBe(409);
    expect((await tf("/virtual-machines?detail=true")).json["virtual-machines"].some((v: any) => v["virtual-machine"].display_name === "taken")).toBe(false);

    const port = (await q("POST", "/v2.0/ports", { port: { network_id: red.net.id, name: "mine" } })).json.port;
    const withPort = await boot({ name: "with-port", networks: [{ port: port.id }] });
    const id = withPort.json.server.id;
    await active(id);
    expect((await q("GET", `/v2.0/ports/${port.id}`)).json.port).toMatchObject({ device_id: id, device_owner: "compute:nova" });
    const inUse = await q("DELETE", `/v2.0/ports/${port.id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.json.NeutronError.type).toBe("PortInUse");
    const again = await boot({ name: "steal", networks: [{ port: port.id }] });
    expect(again.status).toBe(409);
    expect((await nova("DELETE", `/v2.1/servers/${id}`)).status).toBe(204);
    expect((await q("GET", `/v2.0/ports/${port.id}`)).json.port).toMatchObject({ device_id: "", device_owner: "", "binding:host_id": "" });
    expect((await q("DELETE", `/v2.0/ports/${port.id}`)).status).toBe(204);
  });

  it("deletes a server with 204, then 404, leaving no TF object behind", async () => {
    const r = await boot({ name: "doomed", networks: [{ uuid: red.net.id }] });
    const id = r.json.server.id;
    const s = await active(id);
    const portId = (await q("GET", `/v2.0/ports?device_id=${id}`)).json.ports[0].id;
    expect((await nova("DELETE", `/v2.1/servers/${id}`)).status).toBe(204);
    expect(lab.vm.deletes).toContain(id);
    const gone = await nova("GET", `/v2.1/servers/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.json).toEqual({ itemNotFound: { code: 404, message: `Instance ${id} could not be found.` } });
    expect((await tf(`/virtual-machine/${id}`)).status).toBe(404);
    expect((await tf(`/virtual-machine-interface/${portId}`)).status).toBe(404);
    const vr = (await call("POST", `${lab.url.tf}/fqname-to-id`, { type: "virtual-router", fq_name: ["default-global-system-config", s["OS-EXT-SRV-ATTR:host"]] }, H)).json.uuid;
    expect(((await tf(`/virtual-router/${vr}`)).json["virtual-router"].virtual_machine_refs ?? []).map((x: { uuid: string }) => x.uuid)).not.toContain(id);
    const ips = (await tf(`/instance-ips?detail=true`)).json["instance-ips"].map((x: any) => x["instance-ip"].instance_ip_address);
    expect(ips).not.toContain(s.addresses.red[0].addr);
    expect((await nova("DELETE", `/v2.1/servers/${id}`)).status).toBe(404);
  });

  it("renames a server in place: 200 with the whole server, same id, ports and TF objects, new name everywhere", async () => {
    const r = await boot({ name: "before", networks: [{ uuid: red.net.id }] });
    const id = r.json.server.id;
    const booted = await active(id);
    const put = await nova("PUT", `/v2.1/servers/${id}`, { server: { name: "after" } }, { "openstack-api-version": "compute 2.79" });
    expect(put.status, put.text).toBe(200);
    expect(put.headers.get("openstack-api-version")).toBe("compute 2.79");
    const shown = (await nova("GET", `/v2.1/servers/${id}`, undefined, { "openstack-api-version": "compute 2.79" })).json.server;
    // From 2.75 the answer carries every field GET shows.
    expect({ ...put.json.server, updated: undefined }).toEqual({ ...shown, updated: undefined });
    expect(shown).toMatchObject({ id, name: "after", status: "ACTIVE", addresses: booted.addresses, "OS-EXT-SRV-ATTR:host": booted["OS-EXT-SRV-ATTR:host"] });
    expect((await nova("GET", "/v2.1/servers?name=after")).json.servers).toEqual([{ id, name: "after", links: expect.any(Array) }]);
    expect((await nova("GET", "/v2.1/servers?name=^before$")).json.servers).toEqual([]);
    expect((await tf(`/virtual-machine/${id}`)).json["virtual-machine"].display_name).toBe("after");
    expect((await q("GET", `/v2.0/ports?device_id=${id}`)).json.ports.map((p: { id: string }) => p.id)).toEqual(
      (await nova("GET", `/v2.1/servers/${id}/os-interface`)).json.interfaceAttachments.map((a: { port_id: string }) => a.port_id),
    );
    expect(lab.vm.boots.filter((b) => b.serverId === id)).toHaveLength(1);
    expect((await nova("DELETE", `/v2.1/servers/${id}`)).status).toBe(204);
  });

  it("updates access addresses and, from 2.19, the description; before 2.75 the answer leaves out the extended attributes", async () => {
    const id = (await boot({ name: "editable", networks: [{ uuid: red.net.id }] })).json.server.id;
    await active(id);
    const put = await nova("PUT", `/v2.1/servers/${id}`, { server: { accessIPv4: "192.0.2.7", accessIPv6: "2001:db8::7", description: "web tier" } });
    expect(put.status, put.text).toBe(200);
    expect(put.json.server).toMatchObject({ id, name: "editable", accessIPv4: "192.0.2.7", accessIPv6: "2001:db8::7", description: "web tier" });
    expect(Object.keys(put.json.server).filter((k) => /^OS-EXT-(SRV-ATTR|STS|AZ):|^OS-SRV-USG:|^security_groups$|^key_name$/.test(k))).toEqual([]);
    expect(Object.keys(put.json.server.addresses.red[0]).sort()).toEqual(["addr", "version"]);
    const shown = (await nova("GET", `/v2.1/servers/${id}`)).json.server;
    expect(shown).toMatchObject({ accessIPv4: "192.0.2.7", accessIPv6: "2001:db8::7", description: "web tier", "OS-EXT-SRV-ATTR:host": expect.any(String) });
    const cleared = await nova("PUT", `/v2.1/servers/${id}`, { server: { accessIPv4: "", description: null } });
    expect(cleared.json.server).toMatchObject({ accessIPv4: "", accessIPv6: "2001:db8::7", description: null });
    const old = await nova("PUT", `/v2.1/servers/${id}`, { server: { description: "too early" } }, { "x-openstack-nova-api-version": "2.18" });
    expect(old.status).toBe(400);
    expect(old.json.badRequest.message).toMatch(/Additional properties are not allowed \('description' was unexpected\)/);
    expect((await nova("GET", `/v2.1/servers/${id}`)).json.server.description).toBe(null);
    expect((await nova("DELETE", `/v2.1/servers/${id}`)).status).toBe(204);
  });

  it("refuses what Nova cannot change in place, bad values and unknown servers, and changes nothing", async () => {
    const id = (await boot({ name: "fixed-name", networks: [{ uuid: red.net.id }] })).json.server.id;
    await active(id);
    const cases: Array<[unknown, RegExp]> = [
      [{ server: { flavorRef: "2" } }, /Additional properties are not allowed \('flavorRef' was unexpected\)/],
      [{ server: { name: "" } }, /field\/attribute name/],
      [{ server: { name: " padded" } }, /Can not start or end with whitespace/],
      [{ server: { name: "x".repeat(256) } }, /field\/attribute name/],
      [{ server: { accessIPv4: "10.1.1.300" } }, /field\/attribute accessIPv4/],
      [{ server: { accessIPv6: "10.1.1.3" } }, /field\/attribute accessIPv6/],
      [{ name: "no-wrapper" }, /server/],
    ];
    for (const [body, message] of cases) {
      const r = await nova("PUT", `/v2.1/servers/${id}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.badRequest.message).toMatch(message);
    }
    expect((await nova("GET", `/v2.1/servers/${id}`)).json.server).toMatchObject({ name: "fixed-name", accessIPv4: "" });
    const missing = await nova("PUT", "/v2.1/servers/6b0f5d1e-aaaa-4bbb-8ccc-ddddeeeeffff", { server: { name: "ghost" } });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ itemNotFound: { code: 404, message: "Instance 6b0f5d1e-aaaa-4bbb-8ccc-ddddeeeeffff could not be found." } });
    expect((await nova("DELETE", `/v2.1/servers/${id}`)).status).toBe(204);
  });

  it("puts a server in ERROR with a fault when the VM cannot boot", async () => {
    lab.vm.failBoot = "netns creation failed";
    try {
      const r = await boot({ name: "broken", networks: [{ uuid: red.net.id }] });
      const s = await active(r.json.server.id);
      expect(s.status).toBe("ERROR");
      expect(s.fault).toMatchObject({ code: 500, message: "netns creation failed" });
      expect((await nova("DELETE", `/v2.1/servers/${r.json.server.id}`)).status).toBe(204);
    } finally {
      lab.vm.failBoot = undefined;
    }
  });

  it("needs networks from 2.37, takes auto and none, and validates the request", async () => {
    const missing = await boot({ name: "nonet" });
    expect(missing.status).toBe(400);
    expect(missing.json.badRequest.message).toMatch(/'networks' is a required property/);
    const none = await boot({ name: "none", networks: "none" });
    expect(none.status).toBe(202);
    expect((await active(none.json.server.id)).addresses).toEqual({});
    const old = await boot({ name: "old-auto", networks: "auto" }, { "x-openstack-nova-api-version": "2.30" });
    expect(old.status).toBe(400);
    const auto = await boot({ name: "auto", networks: "auto" });
    expect(auto.status).toBe(202);
    expect(Object.keys((await active(auto.json.server.id)).addresses)).toEqual(["red"]);
    expect((await boot({ name: "x", networks: [{ uuid: "6b0f5d1e-aaaa-4bbb-8ccc-ddddeeeeffff" }] })).json.badRequest.message).toMatch(/could not be found/);
    expect((await boot({ name: "x", flavorRef: "99", networks: "none" })).json.badRequest.message).toBe("Invalid flavorRef provided.");
    expect((await boot({ name: "x", imageRef: "6b0f5d1e-aaaa-4bbb-8ccc-ddddeeeeffff", networks: "none" })).json.badRequest.message).toBe("Can not find requested image");
    expect((await boot({ name: "", networks: "none" })).status).toBe(400);
  });

  it("auto-allocation refuses to guess between several networks", async () => {
    await network("blue", "10.2.2.0/24");
    const r = await boot({ name: "ambiguous", networks: "auto" });
    expect(r.status).toBe(409);
    expect(r.json.conflictingRequest.message).toMatch(/Multiple possible networks/);
  });
});
