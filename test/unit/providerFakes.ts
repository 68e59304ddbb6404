// A small fake of every API the provider talks to (Keystone, Nova, Neutron, Glance, TF, NSM,
// pod runtime), each under its own path prefix on one local server, with just enough behaviour
// to exercise the clients and the providers' CRUD. Not the lab: no kernel, no persistence.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { ApiError, close, createJsonServer, listen, objectBody } from "../../lib/http/server.ts";
import type { ApiRequest, Route } from "../../lib/http/server.ts";
import type { PodInfo } from "../../wire/pods.ts";
import { useConfig } from "../../provider/impl/context.ts";

export const PASSWORD = "fake-secret";

interface FakeServer {
  id: string;
  name: string;
  status: string;
  polls: number;
  imageId: string;
  flavorId: string;
  host: string;
  adminPass: string;
}

interface FakePort {
  id: string;
  network_id: string;
  mac_address: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
  device_id: string;
}

interface FakeVn {
  uuid: string;
  fq_name: string[];
  virtual_network_network_id: number;
  network_ipam_refs: Array<{ to: string[]; attr: { ipam_subnets: Array<Record<string, unknown>> } }>;
}

interface FakeConn {
  id: string;
  network_service: string;
  mechanism: { cls: string; type: string; parameters: Record<string, string> };
  labels: Record<string, string>;
  context: unknown;
  state: string;
  network_service_endpoint_name: string;
}

export interface FakeState {
  authCount: number;
  validTokens: Set<string>;
  novaHeaders: Array<Record<string, string>>;
  servers: Map<string, FakeServer>;
  ports: FakePort[];
  networks: Array<{ id: string; name: string }>;
  images: Array<{ id: string; name: string; status: string }>;
  flavors: Array<{ id: string; name: string }>;
  vns: Map<string, FakeVn>;
  services: Map<string, Record<string, unknown>>;
  connections: Map<string, FakeConn>;
  requests: unknown[];
  pods: Map<string, PodInfo>;
  /** Interfaces the fake kernel "lost" (name per pod), for drift tests. */
  lostInterfaces: Set<string>;
  /** Interfaces the fake data plane no longer carries on their VN (their VMI was deleted in TF). */
  detachedInterfaces: Set<string>;
  /** Polls a server stays in BUILD. */
  buildPolls: number;
}

export interface FakeCloud {
  url: string;
  state: FakeState;
  /** endpoints.json pointing at this fake, for TFMESH_ENDPOINTS. */
  endpointsFile: string;
  close(): Promise<void>;
}

/**
 * Registers the file's beforeAll and afterAll: a fake cloud that the providers reach through
 * TFMESH_ENDPOINTS (no stack config); afterwards it is closed and TFMESH_ENDPOINTS restored.
 * `cloud` is set once the beforeAll has run.
 */
export function fakeCloudFixture(): { cloud: FakeCloud } {
  const f = {} as { cloud: FakeCloud };
  const savedEnv = process.env.TFMESH_ENDPOINTS;
  beforeAll(async () => {
    f.cloud = await startFakeCloud();
    process.env.TFMESH_ENDPOINTS = f.cloud.endpointsFile;
    useConfig(undefined);
  });
  afterAll(async () => {
    await f.cloud?.close();
    if (savedEnv === undefined) delete process.env.TFMESH_ENDPOINTS;
    else process.env.TFMESH_ENDPOINTS = savedEnv;
  });
  return f;
}

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");
const mac = () => `02:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}`;

export async function startFakeCloud(): Promise<FakeCloud> {
  const state: FakeState = {
    authCount: 0,
    validTokens: new Set(),
    novaHeaders: [],
    servers: new Map(),
    ports: [],
    networks: [{ id: "7d0a5a55-0000-4000-8000-000000000001", name: "red" }],
    images: [{ id: "11111111-2222-4333-8444-555555555555", name: "cirros", status: "active" }],
    flavors: [{ id: "1", name: "m1.tiny" }],
    vns: new Map(),
    services: new Map(),
    connections: new Map(),
    requests: [],
    pods: new Map(),
    lostInterfaces: new Set(),
    detachedInterfaces: new Set(),
    buildPolls: 2,
  };
  let url = "";
  let nextNetId = 1;

  const requireToken = (req: ApiRequest) => {
    const t = req.headers["x-auth-token"];
    if (typeof t !== "string" || !state.validTokens.has(t)) throw new ApiError(401, "The request you have made requires authentication.");
  };

  const serverView = (s: FakeServer) => {
    const addresses: Record<string, unknown[]> = {};
    for (const p of state.ports.filter((p) => p.device_id === s.id)) {
      const net = state.networks.find((n) => n.id === p.network_id)?.name ?? p.network_id;
      (addresses[net] ??= []).push({ addr: p.fixed_ips[0]!.ip_address, version: 4, "OS-EXT-IPS-MAC:mac_addr": p.mac_address });
    }
    return { id: s.id, name: s.name, status: s.status, addresses, "OS-EXT-SRV-ATTR:host": s.host, image: { id: s.imageId }, flavor: { id: s.flavorId } };
  };

  // As the lab's topology shows them: eth0 on the pod network, each NSM interface with the
  // connection's MAC and address and the VN that carries it.
  const podInterfaces = (pod: string) => {
    const p = state.pods.get(pod)!;
    const eth0 = { name: "eth0", mac: p.eth0.mac, addresses: [`${p.eth0.ip}/${p.eth0.prefixLength}`], network: "pod" };
    const nsm = [...state.connections.values()]
      .filter((c) => c.labels.podName === pod)
      .map((c) => {
        const name = c.mechanism.parameters.name!;
        const ctx = c.context as { ip_context?: { src_ip_addrs?: string[] }; ethernet_context?: { src_mac?: string } };
        const vn = (state.services.get(c.network_service)?.tungsten as { virtual_network?: string } | undefined)?.virtual_network;
        const carried = vn !== undefined && !state.detachedInterfaces.has(`${pod}/${name}`);
        return { name, mac: ctx.ethernet_context?.src_mac ?? "", addresses: ctx.ip_context?.src_ip_addrs ?? [], ...(carried ? { network: vn } : {}) };
      });
    return [eth0, ...nsm].filter((i) => !state.lostInterfaces.has(`${pod}/${i.name}`));
  };

  const routes: Route[] = [
    // Keystone
    {
      method: "POST",
      pattern: "/identity/v3/auth/tokens",
      handler: (req) => {
        const body = objectBody(req, "auth") as { identity?: { password?: { user?: { password?: string } } } };
        if (body.identity?.password?.user?.password !== PASSWORD) throw new ApiError(401, "The request you have made requires authentication.");
        state.authCount++;
        const token = `tok-${state.authCount}`;
        state.validTokens.add(token);
        const ep = (type: string, path: string) => ({ type, endpoints: [{ interface: "public", region: "RegionOne", url: `${url}${path}` }] });
        return {
          status: 201,
          headers: { "x-subject-token": token },
          body: {
            token: {
              expires_at: new Date(Date.now() + 3600_000).toISOString(),
              project: { id: "p1", name: "admin" },
              catalog: [ep("compute", "/compute/v2.1/"), ep("network", "/network"), ep("image", "/image"), ep("identity", "/identity/v3")],
            },
          },
        };
      },
    },
    // Nova
    { method: "GET", pattern: "/compute/v2.1", handler: () => ({ body: { version: { id: "v2.1", version: "2.90", min_version: "2.1" } } }) },
    {
      method: "POST",
      pattern: "/compute/v2.1/servers",
      handler: (req) => {
        const s = objectBody(req, "server") as { name: string; imageRef: string; flavorRef: string; networks: Array<{ uuid: string; fixed_ip?: string }>; availability_zone?: string };
        const id = randomUUID();
        state.servers.set(id, {
          id,
          name: s.name,
          status: "BUILD",
          polls: 0,
          imageId: s.imageRef,
          flavorId: s.flavorRef,
          host: s.availability_zone?.split(":")[1] ?? "compute-1",
          adminPass: "generated-pass",
        });
        s.networks.forEach((n, i) =>
          state.ports.push({ id: randomUUID(), network_id: n.uuid, mac_address: mac(), fixed_ips: [{ subnet_id: "sub", ip_address: n.fixed_ip ?? `10.1.1.${3 + state.ports.length + i}` }], device_id: id }),
        );
        return { status: 202, body: { server: { id, adminPass: "generated-pass" } } };
      },
    },
    {
      method: "GET",
      pattern: "/compute/v2.1/servers/:id",
      handler: (req) => {
        const s = state.servers.get(req.params.id!);
        if (!s) throw new ApiError(404, `Instance ${req.params.id} could not be found.`);
        if (s.status === "BUILD" && ++s.polls >= state.buildPolls) {
          s.status = state.images.find((i) => i.id === s.imageId)?.name === "broken" ? "ERROR" : "ACTIVE";
        }
        return { body: { server: { ...serverView(s), ...(s.status === "ERROR" ? { fault: { message: "No valid host was found." } } : {}) } } };
      },
    },
    {
      method: "PUT",
      pattern: "/compute/v2.1/servers/:id",
      handler: (req) => {
        const s = state.servers.get(req.params.id!);
        if (!s) throw new ApiError(404, "not found");
        s.name = (objectBody(req, "server") as { name: string }).name;
        return { body: { server: serverView(s) } };
      },
    },
    {
      method: "DELETE",
      pattern: "/compute/v2.1/servers/:id",
      handler: (req) => {
        if (!state.servers.delete(req.params.id!)) throw new ApiError(404, "not found");
        state.ports = state.ports.filter((p) => p.device_id !== req.params.id);
        return { status: 204 };
      },
    },
    {
      method: "GET",
      pattern: "/compute/v2.1/flavors/:id",
      handler: (req) => {
        if (req.params.id === "detail") return { body: { flavors: state.flavors } };
        const f = state.flavors.find((x) => x.id === req.params.id);
        if (!f) throw new ApiError(404, `Flavor ${req.params.id} could not be found.`);
        return { body: { flavor: f } };
      },
    },
    // Neutron
    {
      method: "GET",
      pattern: "/network/v2.0/networks",
      handler: (req) => ({ body: { networks: state.networks.filter((n) => !req.query.get("name") || n.name === req.query.get("name")) } }),
    },
    {
      method: "GET",
      pattern: "/network/v2.0/networks/:id",
      handler: (req) => {
        const n = state.networks.find((x) => x.id === req.params.id);
        if (!n) throw new ApiError(404, `Network ${req.params.id} could not be found.`);
        return { body: { network: n } };
      },
    },
    {
      method: "GET",
      pattern: "/network/v2.0/ports",
      handler: (req) => ({ body: { ports: state.ports.filter((p) => !req.query.get("device_id") || p.device_id === req.query.get("device_id")) } }),
    },
    // Glance
    {
      method: "GET",
      pattern: "/image/v2/images",
      handler: (req) => ({ body: { images: state.images.filter((i) => !req.query.get("name") || i.name === req.query.get("name")) } }),
    },
    {
      method: "GET",
      pattern: "/image/v2/images/:id",
      handler: (req) => {
        const i = state.images.find((x) => x.id === req.params.id);
        if (!i) throw new ApiError(404, "not found");
        return { body: i };
      },
    },
    // TF
    {
      method: "POST",
      pattern: "/tf/fqname-to-id",
      handler: (req) => {
        const b = objectBody(req) as { type: string; fq_name: string[] };
        const key = b.fq_name.join(":");
        if (b.type === "project" && key === "default-domain:admin") return { body: { uuid: "a0000000-0000-4000-8000-000000000001" } };
        const vn = b.type === "virtual-network" ? [...state.vns.values()].find((v) => v.fq_name.join(":") === key) : undefined;
        if (!vn) throw new ApiError(404, `Name ${JSON.stringify(b.fq_name)} not found`);
        return { body: { uuid: vn.uuid } };
      },
    },
    {
      method: "POST",
      pattern: "/tf/virtual-networks",
      handler: (req) => {
        const b = objectBody(req, "virtual-network") as unknown as FakeVn;
        if ([...state.vns.values()].some((v) => v.fq_name.join(":") === b.fq_name.join(":"))) throw new ApiError(409, `${JSON.stringify(b.fq_name)} already exists`);
        const vn: FakeVn = { uuid: randomUUID(), fq_name: b.fq_name, virtual_network_network_id: nextNetId++, network_ipam_refs: fillSubnets(b.network_ipam_refs) };
        state.vns.set(vn.uuid, vn);
        return { body: { "virtual-network": { uuid: vn.uuid, fq_name: vn.fq_name } } };
      },
    },
    {
      method: "GET",
      pattern: "/tf/virtual-network/:uuid",
      handler: (req) => {
        const vn = state.vns.get(req.params.uuid!);
        if (!vn) throw new ApiError(404, "not found");
        return { body: { "virtual-network": vn } };
      },
    },
    {
      method: "PUT",
      pattern: "/tf/virtual-network/:uuid",
      handler: (req) => {
        const vn = state.vns.get(req.params.uuid!);
        if (!vn) throw new ApiError(404, "not found");
        const b = objectBody(req, "virtual-network") as Partial<FakeVn>;
        if (b.network_ipam_refs) vn.network_ipam_refs = fillSubnets(b.network_ipam_refs);
        return { body: { "virtual-network": { uuid: vn.uuid } } };
      },
    },
    {
      method: "DELETE",
      pattern: "/tf/virtual-network/:uuid",
      handler: (req) => {
        if (!state.vns.delete(req.params.uuid!)) throw new ApiError(404, "not found");
        return { status: 200 };
      },
    },
    // NSM
    {
      method: "POST",
      pattern: "/nsm/registry/network-services",
      handler: (req) => {
        const ns = objectBody(req);
        state.services.set(ns.name as string, ns);
        return { body: ns };
      },
    },
    { method: "GET", pattern: "/nsm/registry/network-services", handler: () => ({ body: [...state.services.values()] }) },
    {
      method: "GET",
      pattern: "/nsm/registry/network-services/:name",
      handler: (req) => {
        const ns = state.services.get(req.params.name!);
        if (!ns) throw new ApiError(404, `network service ${req.params.name} not found`);
        return { body: ns };
      },
    },
    {
      method: "DELETE",
      pattern: "/nsm/registry/network-services/:name",
      handler: (req) => {
        if ([...state.connections.values()].some((c) => c.network_service === req.params.name)) throw new ApiError(409, "connections still use it");
        if (!state.services.delete(req.params.name!)) throw new ApiError(404, "not found");
        return { body: {} };
      },
    },
    {
      method: "GET",
      pattern: "/nsm/registry/network-service-endpoints",
      handler: () => ({
        body: ["tungsten", "kernel"].map((type) => ({
          name: `${type}@k8s-1`,
          network_service_names: ["forwarder"],
          network_service_labels: { forwarder: { labels: { type, node: "k8s-1" } } },
        })),
      }),
    },
    {
      method: "POST",
      pattern: "/nsm/nsmgr/request",
      handler: (req) => {
        state.requests.push(req.body);
        const r = objectBody(req) as { connection: { id: string; network_service: string; labels: Record<string, string> }; mechanism_preferences: FakeConn["mechanism"][] };
        if (!state.services.has(r.connection.network_service)) throw new ApiError(404, `network service ${r.connection.network_service} not found`);
        const existing = state.connections.get(r.connection.id);
        const n = existing ? 0 : state.connections.size;
        const conn: FakeConn = {
          id: r.connection.id,
          network_service: r.connection.network_service,
          mechanism: r.mechanism_preferences[0]!,
          labels: r.connection.labels,
          context: (existing?.context as object) ?? {
            ip_context: { src_ip_addrs: [`10.1.1.${250 - n}/24`], src_routes: [{ prefix: "10.1.1.0/24", nextHop: "10.1.1.254" }] },
            ethernet_context: { src_mac: mac() },
          },
          state: "UP",
          network_service_endpoint_name: "tungsten@k8s-1",
        };
        state.connections.set(conn.id, conn);
        state.lostInterfaces.delete(`${conn.labels.podName}/${conn.mechanism.parameters.name}`);
        state.detachedInterfaces.delete(`${conn.labels.podName}/${conn.mechanism.parameters.name}`);
        return { body: conn };
      },
    },
    {
      method: "POST",
      pattern: "/nsm/nsmgr/close",
      handler: (req) => {
        state.connections.delete((objectBody(req) as { id: string }).id);
        return { body: {} };
      },
    },
    { method: "GET", pattern: "/nsm/nsmgr/connections", handler: () => ({ body: [...state.connections.values()] }) },
    {
      method: "GET",
      pattern: "/nsm/nsmgr/connections/:id",
      handler: (req) => {
        const c = state.connections.get(req.params.id!);
        if (!c) throw new ApiError(404, "not found");
        return { body: c };
      },
    },
    // Pod runtime
    {
      method: "POST",
      pattern: "/podsapi/pods",
      handler: (req) => {
        const b = objectBody(req) as { name: string; node?: string };
        if (state.pods.has(b.name)) throw new ApiError(409, `pod ${b.name} exists`);
        const pod = { name: b.name, node: b.node ?? "k8s-1", netns: `tfm-pod-${b.name}`, uid: randomUUID(), eth0: { ip: `10.244.1.${state.pods.size + 2}`, prefixLength: 16, mac: mac() }, status: "Running" };
        state.pods.set(b.name, pod);
        return { status: 201, body: pod };
      },
    },
    { method: "GET", pattern: "/podsapi/pods", handler: () => ({ body: [...state.pods.values()] }) },
    {
      method: "GET",
      pattern: "/podsapi/pods/:name",
      handler: (req) => {
        const p = state.pods.get(req.params.name!);
        if (!p) throw new ApiError(404, "not found");
        return { body: p };
      },
    },
    {
      method: "DELETE",
      pattern: "/podsapi/pods/:name",
      handler: (req) => {
        state.pods.delete(req.params.name!);
        return { body: {} };
      },
    },
    {
      method: "GET",
      pattern: "/podsapi/lab/topology",
      handler: () => ({
        body: { nodes: [{ name: "k8s-1", pods: [...state.pods.values()].map((p) => ({ name: p.name, netns: p.netns, interfaces: podInterfaces(p.name) })) }] },
      }),
    },
  ];

  const server: http.Server = createJsonServer({
    name: "fake-cloud",
    routes,
    before: (req) => {
      if (/^\/(compute|network|image)\//.test(req.path) && req.path !== "/compute/v2.1" && req.path !== "/compute/v2.1/") {
        requireToken(req);
        if (req.path.startsWith("/compute/")) {
          state.novaHeaders.push({
            "openstack-api-version": String(req.headers["openstack-api-version"] ?? ""),
            "x-openstack-nova-api-version": String(req.headers["x-openstack-nova-api-version"] ?? ""),
          });
        }
      }
    },
  });
  const port = await listen(server, 0);
  url = `http://127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), "tfmesh-fake-"));
  const endpointsFile = join(dir, "endpoints.json");
  await writeFile(
    endpointsFile,
    JSON.stringify({
      tf: `${url}/tf`,
      keystone: `${url}/identity/v3`,
      nsm: `${url}/nsm`,
      pods: `${url}/podsapi`,
      agents: {},
      credentials: { username: "admin", password: PASSWORD, project: "admin", domain: "Default" },
    }),
  );
  return {
    url,
    state,
    endpointsFile,
    close: async () => {
      await close(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// TF fills in what the client left out: gateway (last host), DNS (the one below), subnet uuid.
function fillSubnets(refs: FakeVn["network_ipam_refs"]): FakeVn["network_ipam_refs"] {
  return refs.map((r) => ({
    to: r.to,
    attr: {
      ipam_subnets: r.attr.ipam_subnets.map((s) => {
        const sub = s.subnet as { ip_prefix: string; ip_prefix_len: number };
        const base = sub.ip_prefix.split(".").slice(0, 3).join(".");
        // As TF: the last hosts of the subnet, or its first ones with addr_from_start.
        const [gw, dns] = s.addr_from_start ? [1, 2] : [254, 253];
        return { default_gateway: `${base}.${gw}`, dns_server_address: `${base}.${dns}`, subnet_uuid: randomUUID(), ...s };
      }),
    },
  }));
}

/** endpoints.json whose every URL refuses connections (a stopped lab). */
export async function unreachableEndpoints(): Promise<{ file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tfmesh-down-"));
  const file = join(dir, "endpoints.json");
  const dead = "http://127.0.0.1:9";
  await writeFile(
    file,
    JSON.stringify({ tf: dead, keystone: `${dead}/v3`, nsm: dead, pods: dead, agents: {}, credentials: { username: "admin", password: "x", project: "admin", domain: "Default" } }),
  );
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
