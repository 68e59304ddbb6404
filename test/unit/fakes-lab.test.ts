// The unit tests' fake APIs (test/unit/fakes/) answer as the lab does: the same calls against a fake
// and against the lab's own services (in process, no kernel: TF, Keystone, Nova, Neutron, Glance on a
// temp sqlite store) give the same status, the same shape (every key, at every depth, with the same kind of value) and, where the data is the
// same, the same values and messages. NSM's gRPC API is compared with the lab's gRPC front (its
// registry and manager over a stand-in tungsten forwarder that builds nothing): the same answers of
// the registry, the same refusals (code and message), connections of the same shape as the
// provider reads them, and the monitor's checked state.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { close, listen } from "../../lib/http/server.ts";
import { openDb } from "../../lab/store/db.ts";
import { createNsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import { nsmStores } from "../../lab/nsm/store.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { forwarderEndpoint } from "../../wire/nsm/api.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { problemOf } from "../../wire/nsm/protoMapping.ts";
import { interfaceOf, withContext, withInterfaceName } from "../../nsm/connection.ts";
import { forwarder, ForwarderRegistry } from "../../nsm/forwarder.ts";
import { Manager } from "../../nsm/manager.ts";
import { Registry } from "../../nsm/registry.ts";
import { CREDS, call, removeDir, startLab, stopLab, tempDir, token } from "../lab/tf-harness.ts";
import type { Lab, Reply } from "../lab/tf-harness.ts";
import { PASSWORD, startFakeCloud } from "./providerFakes.ts";
import type { FakeCloud } from "./providerFakes.ts";

/** Every key at every depth with the kind of its value; an array by its first item. */
function shapeOf(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 0 ? [shapeOf(v[0])] : [];
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shapeOf((v as Record<string, unknown>)[k])]));
  }
  return v === null ? "null" : typeof v;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** An answer's text without what differs between any two servers: ids, times, the server's own URL. */
const words = (r: Reply) =>
  r.text
    .replace(UUID, "<uuid>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?/g, "<time>")
    .replace(new RegExp(`${cloud.url}/\\w+`, "g"), "<base>")
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, "<base>");

function expectSameAnswer(fake: Reply, lab: Reply) {
  expect(fake.status).toBe(lab.status);
  expect(fake.headers.get("content-type")).toBe(lab.headers.get("content-type"));
  expect(shapeOf(fake.json)).toEqual(shapeOf(lab.json));
}

const MV = { "openstack-api-version": "compute 2.79", "x-openstack-nova-api-version": "2.79" };
const auth = (user: string, password: string, project = "admin") => ({
  auth: {
    identity: { methods: ["password"], password: { user: { name: user, domain: { name: "Default" }, password } } },
    scope: { project: { name: project, domain: { name: "Default" } } },
  },
});

let lab: Lab;
let cloud: FakeCloud;
let L: Record<string, string>;
let F: Record<string, string>;
/** The lab's network "red" (10.1.1.0/24, made through Neutron), as the fake cloud starts with one. */
let labRed: string;
let labImage: string;
const fakeRed = "7d0a5a55-0000-4000-8000-000000000001";
const fakeImage = "11111111-2222-4333-8444-555555555555";

beforeAll(async () => {
  lab = await startLab();
  cloud = await startFakeCloud();
  // The lab's boots have finished (nova.idle()) when a test reads them: the fake's leave BUILD at the first GET.
  cloud.state.buildPolls = 1;
  L = { "x-auth-token": await token(lab) };
  const t = await call("POST", `${cloud.url}/identity/v3/auth/tokens`, auth("admin", PASSWORD));
  F = { "x-auth-token": t.headers.get("x-subject-token")! };
  labRed = (await call("POST", `${lab.url.neutron}/v2.0/networks`, { network: { name: "red" } }, L)).json.network.id;
  await call("POST", `${lab.url.neutron}/v2.0/subnets`, { subnet: { network_id: labRed, ip_version: 4, cidr: "10.1.1.0/24" } }, L);
  labImage = (await call("GET", `${lab.url.glance}/v2/images`, undefined, L)).json.images[0].id;
});
afterAll(async () => {
  await cloud?.close();
  if (lab) await stopLab(lab);
});

describe("Keystone", () => {
  it("issues a token: 201, X-Subject-Token, the token body and its catalog", async () => {
    const fake = await call("POST", `${cloud.url}/identity/v3/auth/tokens`, auth("admin", PASSWORD));
    const real = await call("POST", `${lab.url.keystone}/v3/auth/tokens`, auth("admin", CREDS.password));
    expectSameAnswer(fake, real);
    expect(fake.headers.get("x-subject-token")).toBeTruthy();
    expect(fake.json.token.catalog.map((c: { type: string }) => c.type)).toEqual(real.json.token.catalog.map((c: { type: string }) => c.type));
  });

  it("refuses a wrong password, an unknown user and an unknown project alike", async () => {
    for (const [user, project] of [["admin", "admin"], ["nobody", "admin"], ["admin", "nope"]] as const) {
      const fake = await call("POST", `${cloud.url}/identity/v3/auth/tokens`, auth(user, user === "admin" && project === "admin" ? "wrong" : PASSWORD, project));
      const real = await call("POST", `${lab.url.keystone}/v3/auth/tokens`, auth(user, user === "admin" && project === "admin" ? "wrong" : CREDS.password, project));
      expectSameAnswer(fake, real);
      expect(fake.json).toEqual(real.json);
    }
  });

  it("other services refuse a request without a token in keystonemiddleware's words", async () => {
    for (const [fakeUrl, labUrl] of [
      [`${cloud.url}/compute/v2.1/flavors/1`, `${lab.url.nova}/v2.1/flavors/1`],
      [`${cloud.url}/network/v2.0/networks`, `${lab.url.neutron}/v2.0/networks`],
      [`${cloud.url}/image/v2/images`, `${lab.url.glance}/v2/images`],
    ]) {
      const fake = await call("GET", fakeUrl!);
      const real = await call("GET", labUrl!);
      expectSameAnswer(fake, real);
      expect(fake.json).toEqual(real.json);
    }
  });
});

describe("Nova", () => {
  const fakeNova = (method: string, path: string, body?: unknown, headers: Record<string, string> = MV) => call(method, `${cloud.url}/compute${path}`, body, { ...F, ...headers });
  const labNova = (method: string, path: string, body?: unknown, headers: Record<string, string> = MV) => call(method, `${lab.url.nova}${path}`, body, { ...L, ...headers });

  it("discovery: the same version document without a token", async () => {
    const fake = await call("GET", `${cloud.url}/compute/v2.1/`);
    const real = await call("GET", `${lab.url.nova}/v2.1/`);
    expectSameAnswer(fake, real);
    expect({ ...fake.json.version, links: [] }).toEqual({ ...real.json.version, links: [] });
  });

  it("flavors: the same flavors by id, in the list and in detail; 404 by name", async () => {
    for (const path of ["/v2.1/flavors/1", "/v2.1/flavors", "/v2.1/flavors/detail?is_public=None", "/v2.1/flavors/m1.tiny"]) {
      const fake = await fakeNova("GET", path);
      const real = await labNova("GET", path);
      expectSameAnswer(fake, real);
      expect(fake.headers.get("openstack-api-version")).toBe(real.headers.get("openstack-api-version"));
      const noLinks = (r: Reply) => JSON.stringify(r.json, (k, v) => (k === "links" ? undefined : v));
      expect(noLinks(fake)).toBe(noLinks(real));
    }
  });

  it("refuses a microversion it does not serve", async () => {
    const headers = { "openstack-api-version": "compute 2.99", "x-openstack-nova-api-version": "2.99" };
    const fake = await fakeNova("GET", "/v2.1/flavors/1", undefined, headers);
    const real = await labNova("GET", "/v2.1/flavors/1", undefined, headers);
    expectSameAnswer(fake, real);
    expect(fake.json).toEqual(real.json);
  });

  it("boots, shows, renames and deletes a server as the lab does", async () => {
    const boot = (nova: typeof fakeNova, image: string, net: string, az?: string) =>
      nova("POST", "/v2.1/servers", { server: { name: "vm1", imageRef: image, flavorRef: "1", networks: [{ uuid: net }], ...(az ? { availability_zone: az } : {}) } });
    const fakeCreated = await boot(fakeNova, fakeImage, fakeRed, "nova:compute-2");
    const labCreated = await boot(labNova, labImage, labRed, "nova:compute-2");
    expectSameAnswer(fakeCreated, labCreated);
    expect(fakeCreated.headers.get("location")).toMatch(/\/v2\.1\/servers\//);
    const fid = fakeCreated.json.server.id;
    const lid = labCreated.json.server.id;

    await lab.os.model.nova.idle();
    const fake = await fakeNova("GET", `/v2.1/servers/${fid}`);
    const real = await labNova("GET", `/v2.1/servers/${lid}`);
    expectSameAnswer(fake, real);
    for (const k of ["status", "OS-EXT-SRV-ATTR:host", "flavor", "addresses"]) {
      const without = (a: unknown) => JSON.stringify(a, (key, v) => (key === "OS-EXT-IPS-MAC:mac_addr" ? undefined : v));
      expect(without(fake.json.server[k])).toBe(without(real.json.server[k]));
    }

    const fakePorts = await call("GET", `${cloud.url}/network/v2.0/ports?device_id=${fid}`, undefined, F);
    const labPorts = await call("GET", `${lab.url.neutron}/v2.0/ports?device_id=${lid}`, undefined, L);
    expectSameAnswer(fakePorts, labPorts);
    expect(fakePorts.json.ports[0].status).toBe(labPorts.json.ports[0].status);

    // The next server goes to the least loaded node.
    const fakeNext = (await boot(fakeNova, fakeImage, fakeRed)).json.server.id;
    const labNext = (await boot(labNova, labImage, labRed)).json.server.id;
    await lab.os.model.nova.idle();
    expect((await fakeNova("GET", `/v2.1/servers/${fakeNext}`)).json.server["OS-EXT-SRV-ATTR:host"]).toBe((await labNova("GET", `/v2.1/servers/${labNext}`)).json.server["OS-EXT-SRV-ATTR:host"]);
    expect((await fakeNova("GET", "/v2.1/servers/detail?name=vm1")).json.servers).toHaveLength((await labNova("GET", "/v2.1/servers/detail?name=vm1")).json.servers.length);

    const fakeRenamed = await fakeNova("PUT", `/v2.1/servers/${fid}`, { server: { name: "vm1-renamed" } });
    const labRenamed = await labNova("PUT", `/v2.1/servers/${lid}`, { server: { name: "vm1-renamed" } });
    expectSameAnswer(fakeRenamed, labRenamed);
    expect(fakeRenamed.json.server.name).toBe(labRenamed.json.server.name);

    for (const [f, l] of [[fid, lid], [fakeNext, labNext]]) {
      const fakeDeleted = await fakeNova("DELETE", `/v2.1/servers/${f}`);
      const labDeleted = await labNova("DELETE", `/v2.1/servers/${l}`);
      expect(fakeDeleted.status).toBe(labDeleted.status);
      const fakeGone = await fakeNova("GET", `/v2.1/servers/${f}`);
      const labGone = await labNova("GET", `/v2.1/servers/${l}`);
      expectSameAnswer(fakeGone, labGone);
      expect(words(fakeGone)).toBe(words(labGone));
      expect((await fakeNova("DELETE", `/v2.1/servers/${f}`)).status).toBe((await labNova("DELETE", `/v2.1/servers/${l}`)).status);
    }
    expect((await call("GET", `${cloud.url}/network/v2.0/ports?device_id=${fid}`, undefined, F)).json.ports).toEqual([]);
  });

  it("refuses an unknown image, flavor, network or host with the lab's messages", async () => {
    const cases = [
      (image: string, net: string) => ({ name: "x", imageRef: "00000000-0000-4000-8000-000000000000", flavorRef: "1", networks: [{ uuid: net }] }),
      (image: string, net: string) => ({ name: "x", imageRef: image, flavorRef: "99", networks: [{ uuid: net }] }),
      (image: string) => ({ name: "x", imageRef: image, flavorRef: "1", networks: [{ uuid: "00000000-0000-4000-8000-00000000dead" }] }),
      (image: string, net: string) => ({ name: "x", imageRef: image, flavorRef: "1", networks: [{ uuid: net }], availability_zone: "nova:compute-9" }),
    ];
    for (const server of cases) {
      const fake = await fakeNova("POST", "/v2.1/servers", { server: server(fakeImage, fakeRed) });
      const real = await labNova("POST", "/v2.1/servers", { server: server(labImage, labRed) });
      expectSameAnswer(fake, real);
      expect(words(fake)).toBe(words(real));
    }
  });

  it("a server whose boot fails is in ERROR with a fault", async () => {
    cloud.state.images.push({ id: "99999999-2222-4333-8444-555555555555", name: "broken", status: "active" });
    lab.vm.failBoot = "No valid host was found.";
    try {
      const fid = (await fakeNova("POST", "/v2.1/servers", { server: { name: "bad", imageRef: "99999999-2222-4333-8444-555555555555", flavorRef: "1", networks: [] } })).json.server.id;
      const lid = (await labNova("POST", "/v2.1/servers", { server: { name: "bad", imageRef: labImage, flavorRef: "1", networks: [] } })).json.server.id;
      await lab.os.model.nova.idle();
      const fake = await fakeNova("GET", `/v2.1/servers/${fid}`);
      const real = await labNova("GET", `/v2.1/servers/${lid}`);
      expectSameAnswer(fake, real);
      expect(fake.json.server.fault.message).toBe(real.json.server.fault.message);
      await fakeNova("DELETE", `/v2.1/servers/${fid}`);
      await labNova("DELETE", `/v2.1/servers/${lid}`);
    } finally {
      lab.vm.failBoot = undefined;
      cloud.state.images.pop();
    }
  });
});

describe("Neutron", () => {
  it("lists and reads networks and subnets in Neutron's shapes; 404 as NeutronError", async () => {
    const fakeList = await call("GET", `${cloud.url}/network/v2.0/networks?name=red`, undefined, F);
    const labList = await call("GET", `${lab.url.neutron}/v2.0/networks?name=red`, undefined, L);
    expectSameAnswer(fakeList, labList);
    const fakeSubnet = await call("GET", `${cloud.url}/network/v2.0/subnets/${fakeList.json.networks[0].subnets[0]}`, undefined, F);
    const labSubnet = await call("GET", `${lab.url.neutron}/v2.0/subnets/${labList.json.networks[0].subnets[0]}`, undefined, L);
    expectSameAnswer(fakeSubnet, labSubnet);
    for (const k of ["cidr", "gateway_ip", "allocation_pools"]) expect(fakeSubnet.json.subnet[k]).toEqual(labSubnet.json.subnet[k]);
    expectSameAnswer(await call("GET", `${cloud.url}/network/v2.0/networks/${fakeRed}`, undefined, F), await call("GET", `${lab.url.neutron}/v2.0/networks/${labRed}`, undefined, L));
    const missing = "7d0a5a55-0000-4000-8000-000000000009";
    const fake = await call("GET", `${cloud.url}/network/v2.0/networks/${missing}`, undefined, F);
    const real = await call("GET", `${lab.url.neutron}/v2.0/networks/${missing}`, undefined, L);
    expectSameAnswer(fake, real);
    expect(fake.json).toEqual(real.json);
  });
});

describe("Glance", () => {
  it("lists by name and reads by id in Glance's image shape; 404 in Glance's error shape", async () => {
    expectSameAnswer(await call("GET", `${cloud.url}/image/v2/images?name=cirros`, undefined, F), await call("GET", `${lab.url.glance}/v2/images?name=cirros-0.6.2`, undefined, L));
    expectSameAnswer(await call("GET", `${cloud.url}/image/v2/images/${fakeImage}`, undefined, F), await call("GET", `${lab.url.glance}/v2/images/${labImage}`, undefined, L));
    const missing = "00000000-0000-4000-8000-000000000000";
    const fake = await call("GET", `${cloud.url}/image/v2/images/${missing}`, undefined, F);
    const real = await call("GET", `${lab.url.glance}/v2/images/${missing}`, undefined, L);
    expectSameAnswer(fake, real);
    expect(fake.json).toEqual(real.json);
  });
});

describe("TF", () => {
  const fakeTf = (method: string, path: string, body?: unknown, headers = F) => call(method, `${cloud.url}/tf${path}`, body, headers);
  const labTf = (method: string, path: string, body?: unknown, headers = L) => call(method, `${lab.url.tf}${path}`, body, headers);
  const same = async (method: string, fakePath: string, labPath: string, body?: unknown) => {
    const fake = await fakeTf(method, fakePath, body);
    const real = await labTf(method, labPath, body);
    expectSameAnswer(fake, real);
    // A read shows the object's own numbers (network id, uuid halves): its shape and subnets are compared.
    if (method !== "GET" || fake.status !== 200) expect(words(fake)).toBe(words(real));
    return { fake, real };
  };
  const blue = (subnets: unknown[]) => ({
    "virtual-network": {
      fq_name: ["default-domain", "admin", "blue"],
      parent_type: "project",
      network_ipam_refs: [{ to: ["default-domain", "default-project", "default-network-ipam"], attr: { ipam_subnets: subnets } }],
    },
  });
  const subnet = (prefix: string, len: number, more: Record<string, unknown> = {}) => ({ subnet: { ip_prefix: prefix, ip_prefix_len: len }, ...more });

  it("wants a token, and answers errors as plain text in TF's words", async () => {
    const fake = await fakeTf("POST", "/fqname-to-id", { type: "project", fq_name: ["default-domain", "admin"] }, {});
    const real = await labTf("POST", "/fqname-to-id", { type: "project", fq_name: ["default-domain", "admin"] }, {});
    expect(fake.status).toBe(real.status);
    expect(fake.text).toBe(real.text);
    await same("POST", "/fqname-to-id", "/fqname-to-id", { type: "virtual-network", fq_name: ["default-domain", "admin", "ghost"] });
    await same("POST", "/fqname-to-id", "/fqname-to-id", { type: "project", fq_name: ["default-domain", "nope"] });
    const vn = (await same("POST", "/fqname-to-id", "/fqname-to-id", { type: "project", fq_name: ["default-domain", "admin"] })).fake;
    expect(vn.json.uuid).toMatch(UUID);
  });

  it("creates, reads, updates and deletes a virtual network as TF does, subnets completed by TF's rules", async () => {
    const created = await same("POST", "/virtual-networks", "/virtual-networks", blue([subnet("10.2.2.0", 24, { addr_from_start: true }), subnet("10.9.0.0", 16)]));
    await same("POST", "/virtual-networks", "/virtual-networks", blue([]));
    const f = created.fake.json["virtual-network"].uuid;
    const l = created.real.json["virtual-network"].uuid;
    const read = await same("GET", `/virtual-network/${f}`, `/virtual-network/${l}`);
    const subnets = (r: Reply) => r.json["virtual-network"].network_ipam_refs[0].attr.ipam_subnets.map(({ subnet_uuid: _, ...s }: Record<string, unknown>) => s);
    expect(subnets(read.fake)).toEqual(subnets(read.real));

    const before = read.fake.json["virtual-network"].network_ipam_refs[0].attr.ipam_subnets[0].subnet_uuid;
    await same("PUT", `/virtual-network/${f}`, `/virtual-network/${l}`, blue([subnet("10.2.2.0", 24)]));
    const after = await same("GET", `/virtual-network/${f}?exclude_back_refs=true&exclude_children=true`, `/virtual-network/${l}?exclude_back_refs=true&exclude_children=true`);
    expect(subnets(after.fake)).toEqual(subnets(after.real));
    expect(after.fake.json["virtual-network"].network_ipam_refs[0].attr.ipam_subnets[0].subnet_uuid).toBe(before);
    await same("PUT", `/virtual-network/${f}`, `/virtual-network/${l}`, blue([subnet("10.2.2.0", 24, { default_gateway: "10.2.2.7" })]));
    await same("PUT", `/virtual-network/${f}`, `/virtual-network/${l}`, blue([subnet("10.2.2.0", 24), subnet("10.2.0.0", 16)]));

    await same("DELETE", `/virtual-network/${f}`, `/virtual-network/${l}`);
    await same("DELETE", `/virtual-network/${f}`, `/virtual-network/${l}`);
    await same("GET", `/virtual-network/${f}`, `/virtual-network/${l}`);
  });
});

describe("NSM (gRPC)", () => {
  const dir = tempDir("tfmesh-fakes-nsm-");
  let server: ReturnType<typeof createNsmGrpcServer>;
  let real: NsmGrpcClient;
  let fake: NsmGrpcClient;
  /** Interfaces ("<pod>/<name>") the stand-in forwarder's check finds gone. */
  const lost = new Set<string>();
  beforeAll(async () => {
    // The tungsten forwarder as the provider sees it: an interface nsm-<n>, an address, a route via the VN's gateway (as to its other subnets), a MAC.
    let n = 0;
    const key = (c: Connection) => `${c.labels?.podName}/${interfaceOf(c)}`;
    const standIn = forwarder("tungsten", [
      {
        name: "tungsten/stand-in",
        async request(c, next) {
          const named = withInterfaceName(c, interfaceOf(c) ?? `nsm-${++n}`);
          const built = c.context?.ip_context ? named : withContext(named, { ip_context: { src_ip_addrs: ["10.1.1.250/24"], src_routes: [{ prefix: "10.1.2.0/24", nextHop: "10.1.1.254" }] }, ethernet_context: { src_mac: "02:00:00:00:00:01" } });
          lost.delete(key(built));
          return next.request(built);
        },
        close: (c, next) => next.close(c),
        check: async (c, next) => (lost.has(key(c)) ? `tungsten/stand-in: interface ${interfaceOf(c)} is gone` : next.check(c)),
      },
    ]);
    const stores = nsmStores(openDb(dir));
    const forwarders = new ForwarderRegistry([standIn]);
    const registry = new Registry(stores, { checkService: (s) => forwarders.checkService(s) });
    const manager = new Manager({ registry, connections: stores.connections, forwarders });
    for (const type of ["tungsten", "kernel"]) registry.registerEndpoint(forwarderEndpoint(type, "k8s-1"));
    server = createNsmGrpcServer({ registry, manager });
    real = new NsmGrpcClient(`tcp://127.0.0.1:${await listen(server, 0)}`, { timeoutMs: 10_000 });
    fake = new NsmGrpcClient(cloud.nsmTarget, { timeoutMs: 10_000 });
  });
  afterAll(async () => {
    real?.dispose();
    fake?.dispose();
    if (server) {
      server.closeAllConnections();
      await close(server);
    }
    removeDir(dir);
  });

  /** Both answers, or both refusals with the same code and message. */
  async function both<T>(call: (c: NsmGrpcClient) => Promise<T>): Promise<{ fake: T; real: T }> {
    const [f, r] = await Promise.all([fake, real].map((c) => call(c).then((value) => ({ value }), (e: unknown) => ({ error: ConnectError.from(e) }))));
    if ("error" in r! || "error" in f!) {
      expect("error" in f! && [f.error.code, f.error.rawMessage]).toEqual("error" in r! && [r.error.code, r.error.rawMessage]);
      return { fake: undefined as T, real: undefined as T };
    }
    return { fake: f!.value, real: r!.value };
  }
  const red = { name: "red", payload: "ETHERNET" as const, forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } };
  const attach = (id: string, over: Partial<Connection> = {}): NetworkServiceRequest => ({
    connection: { id, network_service: "red", labels: { nodeName: "k8s-1", podName: "web" }, ...over },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { inodeURL: "file:///var/run/netns/tfm-pod-web", netnsName: "tfm-pod-web" } }],
  });
  /** A connection as PodAttachment reads it; the lab's extra_context and MTU the fake leaves out. */
  const asRead = (c: Connection | undefined) => {
    if (!c) return c;
    const { extra_context: _x, MTU: _m, ...context } = c.context ?? {};
    return { ...c, context };
  };

  it("registers, finds and unregisters services as the lab's registry does", async () => {
    const registered = await both((c) => c.upsertNetworkService(red));
    expect(registered.fake).toEqual(registered.real);
    const found = await both((c) => c.getNetworkService("red"));
    expect(found.fake).toEqual(found.real);
    expect(await both((c) => c.getNetworkService("blue"))).toEqual({ fake: undefined, real: undefined });
    const listed = await both((c) => c.listNetworkServices());
    expect(listed.fake).toEqual(listed.real);
    await both((c) => c.unregisterService("blue"));
    const forwarders = await both((c) => c.listEndpoints("forwarder"));
    const named = (es: Array<{ name: string; network_service_labels?: unknown }>) => es.map(({ name, network_service_labels }) => ({ name, network_service_labels }));
    expect(named(forwarders.fake)).toEqual(named(forwarders.real));
  });

  it("answers Request with a connection of the lab's shape and values, reads it through the monitor, and closes it", async () => {
    const made = await both((c) => c.request(attach("c-1")));
    expect(shapeOf(asRead(made.fake))).toEqual(shapeOf(asRead(made.real)));
    const fixed = ({ id, network_service, labels, mechanism, path, network_service_endpoint_name, payload, state }: Connection) => ({ id, network_service, labels, mechanism, path, network_service_endpoint_name, payload, state });
    expect(fixed(made.fake)).toEqual(fixed(made.real));
    const again = await both((c) => c.request(attach("c-1")));
    expect(again.fake.mechanism?.parameters?.name).toBe(again.real.mechanism?.parameters?.name);
    const second = await both((c) => c.request(attach("c-2")));
    expect(second.fake.mechanism?.parameters?.name).toBe(second.real.mechanism?.parameters?.name);
    const read = await both((c) => c.getConnection("c-1"));
    expect(fixed(read.fake!)).toEqual(fixed(read.real!));
    expect(shapeOf(asRead(read.fake))).toEqual(shapeOf(asRead(read.real)));
    const listed = await both((c) => c.listConnections());
    expect(listed.fake.map((c) => c.id).sort()).toEqual(listed.real.map((c) => c.id).sort());
    expect(await both((c) => c.getConnection("nobody"))).toEqual({ fake: undefined, real: undefined });
  });

  it("the monitor answers a connection whose interface is gone as DOWN, the reason in the manager's segment", async () => {
    cloud.state.lostInterfaces.add("web/nsm-1");
    lost.add("web/nsm-1");
    const down = await both((c) => c.getConnection("c-1"));
    expect([down.fake?.state, down.real?.state]).toEqual(["DOWN", "DOWN"]);
    const at = (c: Connection | undefined) => c?.path?.path_segments.findIndex((s) => s.metrics?.["tfmesh.problem"] !== undefined);
    expect(at(down.fake)).toBe(at(down.real));
    // 0 is the client's segment, 1 the manager's.
    expect(at(down.real)).toBe(1);
    expect(problemOf(down.real!)).toBe("tungsten/stand-in: interface nsm-1 is gone");
    expect(problemOf(down.fake!)).toBeDefined();
    const healed = await both((c) => c.request(attach("c-1")));
    expect([healed.fake.state, healed.real.state]).toEqual(["UP", "UP"]);
    const up = await both((c) => c.getConnection("c-1"));
    expect([up.fake?.state, up.real?.state, problemOf(up.fake!), problemOf(up.real!)]).toEqual(["UP", "UP", undefined, undefined]);
  });

  it("refuses as the lab does: an unknown service, a bad id, no node label, unregistering a used or unknown service", async () => {
    const refusals: Array<[string, (c: NsmGrpcClient) => Promise<unknown>, Code]> = [
      ["unknown service", (c) => c.request(attach("c-9", { network_service: "blue" })), Code.NotFound],
      ["bad id", (c) => c.request(attach("-bad id")), Code.InvalidArgument],
      ["no node", (c) => c.request(attach("c-9", { labels: { podName: "web" } })), Code.InvalidArgument],
      ["in use", (c) => c.unregisterService("red"), Code.FailedPrecondition],
      ["unknown", (c) => c.unregisterService("blue"), Code.NotFound],
    ];
    for (const [what, call, code] of refusals) {
      const [f, r] = await Promise.all([call(fake), call(real)].map((p) => p.then(() => undefined, (e: unknown) => ConnectError.from(e))));
      expect(r?.code, what).toBe(code);
      expect([f?.code, f?.rawMessage], what).toEqual([r?.code, r?.rawMessage]);
    }
  });

  it("Close removes a connection, twice or unknown alike; then the service unregisters", async () => {
    for (const id of ["c-1", "c-2", "c-1", "nobody"]) await both((c) => c.close({ id }));
    expect(await both((c) => c.listConnections())).toEqual({ fake: [], real: [] });
    await both((c) => c.unregisterService("red"));
    expect(await both((c) => c.listNetworkServices())).toEqual({ fake: [], real: [] });
  });
});
