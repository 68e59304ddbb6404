// Fake Nova v2.1, as the lab's (lab/openstack/nova.ts): version discovery without a token, the
// microversion asked for (2.1..2.79, echoed in the answer's headers, 406 outside), servers booted on
// the least loaded compute node or the one pinned with availability_zone "nova:<host>", one port per
// requested network, and the server, flavor and error shapes of that microversion. Instead of the
// lab's data plane, a server leaves BUILD after state.buildPolls GETs: to ACTIVE, or to ERROR with a
// fault when its image is named "broken". Metadata is kept (and PUT one item at a time); a hard
// reboot is counted (state.servers' hardReboots) and leaves the server ACTIVE.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { ApiError, createJsonServer, objectBody } from "../../../lib/http/server.ts";
import type { ApiRequest, ApiResponse, Route } from "../../../lib/http/server.ts";
import { FLAVORS } from "../../../lab/openstack/catalogData.ts";
import type { Flavor } from "../../../lab/openstack/catalogData.ts";
import { isoSeconds, novaError } from "../../../lab/openstack/common.ts";
import { atLeast, MAX_VERSION, MIN_VERSION, requestedVersion, versionHeaders } from "../../../lab/openstack/microversion.ts";
import type { Microversion } from "../../../lab/openstack/microversion.ts";
import type { NeutronModel } from "../../../lab/openstack/neutronModel.ts";
import { parseServerUpdate } from "../../../lab/openstack/novaRequests.ts";
import { flavorView, links, ServerViews } from "../../../lab/openstack/novaViews.ts";
import type { ServerRecord } from "../../../lab/openstack/servers.ts";
import type { ConfigStore } from "../../../lab/tf/configStore.ts";
import type { GlanceFakeState } from "./glance.ts";
import { COMPUTE_NODES, PROJECT_ID, USER_ID } from "./mount.ts";
import { createServerPort } from "./neutron.ts";
import type { FakePort, NeutronFakeState } from "./neutron.ts";

export interface FakeServer {
  id: string;
  name: string;
  status: string;
  /** GETs so far while in BUILD. */
  polls: number;
  imageId: string;
  flavorId: string;
  host: string;
  adminPass: string;
  created: string;
  fault?: { code: number; message: string; created: string };
  metadata?: Record<string, string>;
  /** Hard reboots so far (the lab's plug the server's ports again). */
  hardReboots?: number;
}

export interface NovaFakeState {
  servers: Map<string, FakeServer>;
  flavors: Flavor[];
  /** The microversion headers of every authenticated Nova request, in order. */
  novaHeaders: Array<Record<string, string>>;
  /** GETs a server stays in BUILD. */
  buildPolls: number;
  /** DELETE of a server answers 500 while set (a compute node that cannot be reached). */
  deleteFails?: boolean;
}

export const NOVA_FLAVORS = (): Flavor[] => FLAVORS.map((f) => ({ ...f }));

const bad = (message: string) => new ApiError(400, message);

export function fakeNova(state: NovaFakeState & NeutronFakeState & GlanceFakeState, opts: { requireToken: (req: ApiRequest) => void; baseUrl: () => string }): http.Server {
  const base = () => opts.baseUrl();
  const versionDoc = () => ({
    id: "v2.1",
    status: "CURRENT",
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: "2013-07-23T11:33:21Z",
    links: [{ rel: "self", href: `${base()}/v2.1/` }, { rel: "describedby", type: "text/html", href: "http://docs.openstack.org/" }],
    "media-types": [{ base: "application/json", type: "application/vnd.openstack.compute+json;version=2.1" }],
  });

  // The lab's own server view. It reads a server's ports from the TF store, so the fake's servers
  // are shown without ports and get their addresses from the fake Neutron's ports instead.
  const views = new ServerViews({ store: {} as ConfigStore, neutron: {} as NeutronModel, projectId: PROJECT_ID, userId: USER_ID });
  const asRecord = (s: FakeServer): ServerRecord => ({
    id: s.id, name: s.name, host: s.host, status: s.status as ServerRecord["status"], flavorId: s.flavorId, imageId: s.imageId,
    metadata: s.metadata ?? {}, ports: [], created: s.created, updated: s.created, launchedAt: s.status === "ACTIVE" ? `${s.created.replace(/Z$/, "")}.000000` : null,
    fault: s.fault ?? null, instanceNumber: [...state.servers.keys()].indexOf(s.id) + 1, keyName: null,
  });
  const serverView = (s: FakeServer, v: Microversion, extended = true) => {
    const addresses: Record<string, Array<Record<string, unknown>>> = {};
    for (const p of state.ports.filter((x) => x.device_id === s.id)) {
      const net = state.networks.find((n) => n.id === p.network_id)?.name ?? p.network_id;
      for (const f of p.fixed_ips) {
        (addresses[net] ??= []).push({ addr: f.ip_address, version: 4, ...(extended ? { "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.mac_address } : {}) });
      }
    }
    return { ...views.server(base(), asRecord(s), v, { extended }), addresses };
  };

  const mustGet = (id: string) => {
    const s = state.servers.get(id);
    if (!s) throw new ApiError(404, `Instance ${id} could not be found.`);
    return s;
  };

  // The least loaded compute node, or the one pinned with "nova:<host>".
  const schedule = (az: unknown): string => {
    if (typeof az === "string") {
      const [zone, host] = az.split(":", 2);
      if (zone !== "nova" && zone !== "") throw bad(`The requested availability zone is not available: ${az}`);
      if (host) {
        if (!COMPUTE_NODES.includes(host)) throw bad(`No valid host was found. '${host}' is not a compute node of the lab (${COMPUTE_NODES.join(", ")}).`);
        return host;
      }
    }
    const load = (n: string) => [...state.servers.values()].filter((s) => s.host === n).length;
    return [...COMPUTE_NODES].sort((a, b) => load(a) - load(b))[0]!;
  };

  const create = (req: ApiRequest, v: Microversion): ApiResponse => {
    const s = objectBody(req, "server") as { name?: unknown; imageRef?: unknown; flavorRef?: unknown; networks?: unknown; availability_zone?: unknown; metadata?: unknown };
    // Nova's name check, as the lab makes it.
    const name = parseServerUpdate({ name: s.name ?? null }, v).name!;
    const flavor = state.flavors.find((f) => f.id === String(s.flavorRef));
    if (!flavor) throw bad("Invalid flavorRef provided.");
    const image = state.images.find((i) => i.id === s.imageRef);
    if (!image) throw bad("Can not find requested image");
    if (!Array.isArray(s.networks)) throw bad("Invalid input for field/attribute server. 'networks' is a required property (microversion 2.37 and later).");
    const networks = s.networks as Array<{ uuid?: string; fixed_ip?: string }>;
    for (const n of networks) if (!state.networks.some((x) => x.id === n.uuid)) throw bad(`Network ${n.uuid} could not be found.`);
    const host = schedule(s.availability_zone);
    const id = randomUUID();
    const made: FakePort[] = [];
    try {
      for (const n of networks) made.push(createServerPort(state, { networkId: n.uuid!, ...(n.fixed_ip ? { fixedIp: n.fixed_ip } : {}), deviceId: id, host }));
    } catch (e) {
      state.ports = state.ports.filter((p) => !made.includes(p));
      if (e instanceof ApiError && e.details === "IpAddressInUse") throw new ApiError(409, `Fixed IP address is already in use: ${e.message}`);
      throw e;
    }
    const adminPass = "generated-pass";
    const metadata = { ...((s.metadata ?? {}) as Record<string, string>) };
    state.servers.set(id, { id, name, status: "BUILD", polls: 0, imageId: image.id, flavorId: flavor.id, host, adminPass, created: isoSeconds(), metadata });
    return {
      status: 202,
      headers: { location: `${base()}/v2.1/servers/${id}` },
      body: { server: { id, links: links(base(), id), adminPass, "OS-DCF:diskConfig": "MANUAL", security_groups: [{ name: "default" }] } },
    };
  };

  const get = (id: string): FakeServer => {
    const s = mustGet(id);
    if (s.status === "BUILD" && ++s.polls >= state.buildPolls) {
      if (state.images.find((i) => i.id === s.imageId)?.name === "broken") {
        s.status = "ERROR";
        s.fault = { code: 500, message: "No valid host was found.", created: isoSeconds() };
      } else {
        s.status = "ACTIVE";
      }
    }
    return s;
  };

  const update = (req: ApiRequest, v: Microversion): ApiResponse => {
    const changes = parseServerUpdate(objectBody(req, "server"), v);
    const s = mustGet(req.params.id!);
    if (changes.name !== undefined) s.name = changes.name;
    return { body: { server: serverView(s, v, atLeast(v, 75)) } };
  };

  const remove = (id: string): ApiResponse => {
    mustGet(id);
    if (state.deleteFails) throw new ApiError(500, `Instance ${id} could not be deleted: its compute node does not answer.`);
    state.servers.delete(id);
    state.ports = state.ports.filter((p) => p.device_id !== id);
    return { status: 204 };
  };

  // Nova matches ?name= as a regular expression (the lab as text when it is none), ?status= exactly.
  const listed = (q: URLSearchParams) => {
    const named = (n: string, pattern: string | null) => {
      if (pattern === null) return true;
      try {
        return new RegExp(pattern).test(n);
      } catch {
        return n.includes(pattern);
      }
    };
    return [...state.servers.values()].filter((s) => named(s.name, q.get("name")) && [null, s.status].includes(q.get("status")?.toUpperCase() ?? null));
  };

  const versioned = (fn: (req: ApiRequest, v: Microversion) => ApiResponse) => (req: ApiRequest): ApiResponse => {
    const v = requestedVersion(req);
    const res = fn(req, v);
    return { ...res, headers: { ...res.headers, ...versionHeaders(v) } };
  };
  const flavorOf = (id: string) => {
    const f = state.flavors.find((x) => x.id === id);
    if (!f) throw new ApiError(404, `Flavor ${id} could not be found.`);
    return f;
  };
  const isDiscovery = (req: ApiRequest) => req.method === "GET" && ["/", "/v2.1", "/v2.1/"].includes(req.path);

  const routes: Route[] = [
    { method: "GET", pattern: "/", handler: () => ({ body: { versions: [versionDoc()] } }) },
    { method: "GET", pattern: "/v2.1", handler: () => ({ body: { version: versionDoc() } }) },
    { method: "POST", pattern: "/v2.1/servers", handler: versioned(create) },
    { method: "GET", pattern: "/v2.1/servers", handler: versioned((req) => ({ body: { servers: listed(req.query).map((s) => ({ id: s.id, name: s.name, links: links(base(), s.id) })) } })) },
    { method: "GET", pattern: "/v2.1/servers/detail", handler: versioned((req, v) => ({ body: { servers: listed(req.query).map((s) => serverView(s, v)) } })) },
    { method: "GET", pattern: "/v2.1/servers/:id", handler: versioned((req, v) => ({ body: { server: serverView(get(req.params.id!), v) } })) },
    { method: "PUT", pattern: "/v2.1/servers/:id", handler: versioned(update) },
    { method: "DELETE", pattern: "/v2.1/servers/:id", handler: versioned((req) => remove(req.params.id!)) },
    {
      method: "PUT",
      pattern: "/v2.1/servers/:id/metadata/:key",
      handler: versioned((req) => {
        const key = req.params.key!;
        const meta = objectBody(req, "meta");
        if (Object.keys(meta).length !== 1) throw bad("Request body contains too many items");
        if (!(key in meta)) throw bad("Request body and URI mismatch");
        const server = mustGet(req.params.id!);
        server.metadata = { ...server.metadata, [key]: String(meta[key]) };
        return { body: { meta: { [key]: String(meta[key]) } } };
      }),
    },
    {
      method: "POST",
      pattern: "/v2.1/servers/:id/action",
      handler: versioned((req) => {
        const reboot = objectBody(req, "reboot");
        const server = mustGet(req.params.id!);
        if (String(reboot.type).toUpperCase() === "HARD") server.hardReboots = (server.hardReboots ?? 0) + 1;
        return { status: 202 };
      }),
    },
    { method: "GET", pattern: "/v2.1/flavors", handler: versioned((_req, v) => ({ body: { flavors: state.flavors.map((f) => flavorView(base(), f, v, false)) } })) },
    { method: "GET", pattern: "/v2.1/flavors/detail", handler: versioned((_req, v) => ({ body: { flavors: state.flavors.map((f) => flavorView(base(), f, v, true)) } })) },
    { method: "GET", pattern: "/v2.1/flavors/:id", handler: versioned((req, v) => ({ body: { flavor: flavorView(base(), flavorOf(req.params.id!), v, true) } })) },
  ];
  return createJsonServer({
    name: "fake-nova",
    routes,
    before: (req) => {
      if (isDiscovery(req)) return;
      opts.requireToken(req);
      state.novaHeaders.push({
        "openstack-api-version": String(req.headers["openstack-api-version"] ?? ""),
        "x-openstack-nova-api-version": String(req.headers["x-openstack-nova-api-version"] ?? ""),
      });
    },
    // Nova's fault body, echoing the microversion unless that was what it refused.
    renderError: (err, req) => {
      const out = novaError(err);
      const echo = (): Record<string, string> => {
        try {
          return req ? versionHeaders(requestedVersion(req)) : {};
        } catch {
          return {};
        }
      };
      return { ...out, headers: { ...out.headers, ...echo() } };
    },
  });
}
