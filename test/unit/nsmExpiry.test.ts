// NSM endpoint registrations expire unless refreshed (NSM v1): the registry stops returning and
// removes expired endpoints, the manager refuses a request whose forwarder registration expired,
// and the lab's forwarders refresh their registrations at 2/3 of the lifetime while NSM runs.
// Time is an injected clock; the lab's refresh timer is a fake interval driven by the test.
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HttpClient, HttpError } from "../../lib/http/client.ts";
import { close, listen } from "../../lib/http/server.ts";
import { createNsm } from "../../lab/nsm/index.ts";
import type { LabNsm } from "../../lab/nsm/index.ts";
import { createNsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import { createNsmServer } from "../../lab/nsm/server.ts";
import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { NetworkServiceEndpointSchema } from "../../wire/nsm/gen/registry_pb.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { endpointToProto } from "../../wire/nsm/protoMapping.ts";
import type { Connection, NetworkServiceEndpoint, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { forwarderEndpoint } from "../../wire/nsm/api.ts";
import { NsmError } from "../../nsm/errors.ts";
import { ForwarderRegistry } from "../../nsm/forwarder.ts";
import type { Forwarder } from "../../nsm/forwarder.ts";
import { Manager } from "../../nsm/manager.ts";
import type { ConnectionStore } from "../../nsm/manager.ts";
import { DEFAULT_ENDPOINT_LIFETIME_MS, parseTimestamp, Registry } from "../../nsm/registry.ts";
import type { RecordStore } from "../../nsm/registry.ts";

const T0 = Date.parse("2024-05-01T12:00:00.000Z");

function records<T>(): RecordStore<T> & { map: Map<string, T> } {
  const map = new Map<string, T>();
  return { map, get: (n) => map.get(n), put: (n, r) => void map.set(n, r), delete: (n) => map.delete(n), list: () => [...map.values()] };
}

function connections(): ConnectionStore {
  const map = new Map<string, Connection>();
  return { get: (id) => map.get(id), set: (id, s) => void map.set(id, s), delete: (id) => void map.delete(id), list: () => [...map.values()] };
}

const built = new Set<string>();
const fakeTungsten: Forwarder = {
  type: "tungsten",
  name: "tungsten",
  async request(conn, next) {
    built.add(conn.id);
    return next.request({ ...conn, state: "UP" });
  },
  async close(conn, next) {
    built.delete(conn.id);
    await next.close(conn);
  },
};

const request = (id: string, node = "k8s-1"): NetworkServiceRequest => ({
  connection: { id, network_service: "red", labels: { nodeName: node } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "t-pod-a" } }],
});

describe("registry: endpoint registrations expire", () => {
  let now: number;
  let endpoints: ReturnType<typeof records<NetworkServiceEndpoint>>;
  let registry: Registry;

  beforeEach(() => {
    now = T0;
    endpoints = records();
    registry = new Registry({ services: records(), endpoints }, { endpointLifetimeMs: 1000, now: () => now });
  });

  it("gives a registration without expiration_time one lifetime from now, as an RFC 3339 time", () => {
    const e = registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
    expect(e.expiration_time).toBe("2024-05-01T12:00:01.000Z");
    expect(registry.getEndpoint("tungsten@k8s-1")).toEqual(e);
  });

  it("uses one minute when no lifetime is configured, as NSM", () => {
    expect(DEFAULT_ENDPOINT_LIFETIME_MS).toBe(60_000);
    const r = new Registry({ services: records(), endpoints: records() }, { now: () => T0 });
    expect(r.registerEndpoint(forwarderEndpoint("kernel", "k8s-1")).expiration_time).toBe("2024-05-01T12:01:00.000Z");
  });

  it("returns an endpoint until its expiration_time, then neither lists nor finds it and removes it", () => {
    registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
    registry.registerEndpoint({ ...forwarderEndpoint("kernel", "k8s-1"), expiration_time: "2024-05-01T12:00:05Z" });
    now = T0 + 999;
    expect(registry.findForwarder("tungsten", "k8s-1")?.name).toBe("tungsten@k8s-1");
    now = T0 + 1000;
    expect(registry.findForwarder("tungsten", "k8s-1")).toBeUndefined();
    expect(registry.getEndpoint("tungsten@k8s-1")).toBeUndefined();
    expect(registry.listEndpoints("forwarder").map((e) => e.name)).toEqual(["kernel@k8s-1"]);
    expect([...endpoints.map.keys()]).toEqual(["kernel@k8s-1"]);
    expect(registry.expiredAt("tungsten@k8s-1")).toBe("2024-05-01T12:00:01.000Z");
  });

  it("a refresh (registering again) extends the registration and forgets that it had expired", () => {
    registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
    now = T0 + 700;
    expect(registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1")).expiration_time).toBe("2024-05-01T12:00:01.700Z");
    now = T0 + 1500;
    expect(registry.findForwarder("tungsten", "k8s-1")).toBeDefined();
    now = T0 + 1700;
    expect(registry.findForwarder("tungsten", "k8s-1")).toBeUndefined();
    registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
    expect(registry.expiredAt("tungsten@k8s-1")).toBeUndefined();
    expect(registry.findForwarder("tungsten", "k8s-1")).toBeDefined();
  });

  it("takes the Timestamp JSON forms (RFC 3339 with offset or nanoseconds, Go's {seconds, nanos}) and stores RFC 3339 UTC", () => {
    const at = (expiration_time: unknown) => registry.registerEndpoint({ ...forwarderEndpoint("tungsten", "k8s-1"), expiration_time }).expiration_time;
    expect(at("2024-05-01T14:00:02+02:00")).toBe("2024-05-01T12:00:02.000Z");
    expect(at("2024-05-01T12:00:02.123456789Z")).toBe("2024-05-01T12:00:02.123Z");
    expect(at({ seconds: T0 / 1000 + 3, nanos: 500_000_000 })).toBe("2024-05-01T12:00:03.500Z");
    expect(at({ seconds: String(T0 / 1000 + 4) })).toBe("2024-05-01T12:00:04.000Z");
  });

  it("refuses an expiration_time that is no timestamp with 400 naming the field", () => {
    for (const bad of ["tomorrow", "2024-05-01 12:00:00", 1714564800, { seconds: 1, nanos: 2e9 }, { secs: 1 }]) {
      const err = (() => {
        try {
          registry.registerEndpoint({ ...forwarderEndpoint("tungsten", "k8s-1"), expiration_time: bad });
        } catch (e) {
          return e;
        }
      })() as NsmError;
      expect(err).toBeInstanceOf(NsmError);
      expect(err.status).toBe(400);
      expect(err.message).toContain("expiration_time");
    }
    expect(endpoints.map.size).toBe(0);
    for (const nonsense of ["2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-01T24:00:00Z"]) expect(parseTimestamp(nonsense)).toBeUndefined();
    expect(parseTimestamp("2024-02-29T00:00:00Z")).toBe(Date.UTC(2024, 1, 29));
  });
});

describe("manager: a forwarder whose registration expired", () => {
  let now: number;
  let registry: Registry;
  let manager: Manager;

  beforeEach(() => {
    now = T0;
    built.clear();
    const forwarders = new ForwarderRegistry([fakeTungsten]);
    registry = new Registry({ services: records(), endpoints: records() }, { endpointLifetimeMs: 1000, now: () => now });
    manager = new Manager({ registry, connections: connections(), forwarders });
    registry.registerService({ name: "red", payload: "ETHERNET", forwarder: "tungsten" });
    registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
  });

  it("refuses the request with 400 naming the forwarder and when it expired, and builds nothing", async () => {
    now = T0 + 1000;
    const err = (await manager.request(request("c1")).catch((e: unknown) => e)) as NsmError;
    expect(err).toBeInstanceOf(NsmError);
    expect(err.status).toBe(400);
    expect(err.message).toContain('"tungsten@k8s-1"');
    expect(err.message).toContain("expired at 2024-05-01T12:00:01.000Z");
    expect(built.size).toBe(0);
    expect(manager.get("c1")).toBeUndefined();
  });

  it("says the same after the expired record was already dropped by a listing", async () => {
    now = T0 + 5000;
    expect(registry.listEndpoints()).toEqual([]);
    const err = (await manager.request(request("c1")).catch((e: unknown) => e)) as NsmError;
    expect(err.message).toMatch(/"tungsten@k8s-1", whose registration expired at 2024-05-01T12:00:01\.000Z/);
  });

  it("serves requests again once the forwarder refreshed its registration", async () => {
    now = T0 + 1000;
    await expect(manager.request(request("c1"))).rejects.toThrow(/expired/);
    registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
    expect((await manager.request(request("c1"))).state).toBe("UP");
    expect(built.has("c1")).toBe(true);
  });

  it("still says 'not registered' for a forwarder that never was", async () => {
    const err = (await manager.request(request("c1", "k8s-2")).catch((e: unknown) => e)) as NsmError;
    expect(err.message).toContain("not registered on node");
    expect(err.message).not.toContain("expired");
  });
});

describe("NSM API: expiration_time", () => {
  it("answers registrations with their expiration_time, stops listing expired ones, and refuses a bad one", async () => {
    let now = T0;
    const forwarders = new ForwarderRegistry([fakeTungsten]);
    const registry = new Registry({ services: records(), endpoints: records() }, { endpointLifetimeMs: 1000, now: () => now });
    const manager = new Manager({ registry, connections: connections(), forwarders });
    const grpcServer = createNsmGrpcServer({ registry, manager });
    const view = createNsmServer({ registry, manager });
    const client = new NsmGrpcClient(`tcp://127.0.0.1:${await listen(grpcServer, 0)}`, { timeoutMs: 10_000 });
    try {
      const http = new HttpClient({ baseUrl: `http://127.0.0.1:${await listen(view, 0)}`, retries: 0 });
      const posted = await client.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
      expect(posted.expiration_time).toBe("2024-05-01T12:00:01.000Z");
      expect((await client.listEndpoints("forwarder")).map((e) => e.expiration_time)).toEqual(["2024-05-01T12:00:01.000Z"]);
      const listed = await http.get<NetworkServiceEndpoint[]>("/registry/network-service-endpoints?network_service=forwarder");
      expect(listed.body.map((e) => e.expiration_time)).toEqual(["2024-05-01T12:00:01.000Z"]);
      now = T0 + 1000;
      expect(await client.listEndpoints()).toEqual([]);
      expect((await http.get<NetworkServiceEndpoint[]>("/registry/network-service-endpoints")).body).toEqual([]);
      const missing = await http.get("/registry/network-service-endpoints/tungsten@k8s-1").catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(HttpError);
      expect((missing as HttpError).status).toBe(404);
      // A Timestamp beyond what the registry can hold (the JSON API's "soon" cannot be sent over gRPC).
      const bad = await client.endpoints
        .register(create(NetworkServiceEndpointSchema, { ...endpointToProto(forwarderEndpoint("kernel", "k8s-1")), expirationTime: create(TimestampSchema, { seconds: 10n ** 15n }) }))
        .catch((e: unknown) => ConnectError.from(e));
      expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
      expect((bad as ConnectError).rawMessage).toContain("expiration_time");
    } finally {
      client.dispose();
      grpcServer.closeAllConnections();
      await Promise.all([close(grpcServer), close(view)]);
    }
  });
});

describe("lab NSM: the forwarders refresh their registrations", () => {
  const LIFETIME = 900;
  let now: number;
  let nsm: LabNsm;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    now = T0;
    nsm = createNsm({
      db: new DatabaseSync(":memory:"),
      instance: { prefix: "t-exp", k8sNodes: ["k8s-1", "k8s-2"], auth: "noauth" },
      endpoints: {
        tf: "http://127.0.0.1:1",
        keystone: "http://127.0.0.1:1/v3",
        nsm: "http://127.0.0.1:1",
        agents: {},
        credentials: { username: "admin", password: "x", project: "admin", domain: "Default" },
      },
      endpointLifetimeMs: LIFETIME,
      now: () => now,
    });
  });

  afterEach(async () => {
    await nsm.stop();
    vi.useRealTimers();
  });

  /** Moves the clock and the refresh timer forward together. */
  const advance = (ms: number) => {
    now += ms;
    vi.advanceTimersByTime(ms);
  };
  const expirations = () => Object.fromEntries(nsm.registry.listEndpoints("forwarder").map((e) => [e.name, e.expiration_time]));

  it("registers every forwarder for one lifetime on start, and re-registers them at 2/3 of it", async () => {
    await nsm.start();
    const first = new Date(T0 + LIFETIME).toISOString();
    expect(expirations()).toEqual({ "kernel@k8s-1": first, "kernel@k8s-2": first, "tungsten@k8s-1": first, "tungsten@k8s-2": first });
    advance(599);
    expect(expirations()["tungsten@k8s-1"]).toBe(first);
    advance(1);
    expect(expirations()["tungsten@k8s-1"]).toBe(new Date(T0 + 600 + LIFETIME).toISOString());
    advance(600 * 10);
    expect(Object.keys(expirations())).toHaveLength(4);
  });

  it("stops refreshing on stop, so the registrations expire and requests name the lapsed forwarder", async () => {
    await nsm.start();
    nsm.registry.registerService({ name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } });
    await nsm.stop();
    expect(vi.getTimerCount()).toBe(0);
    advance(LIFETIME);
    expect(expirations()).toEqual({});
    await expect(nsm.manager.request(request("c1"))).rejects.toThrow(/"tungsten@k8s-1", whose registration expired/);
  });

  it("keeps one refresh timer across repeated starts", async () => {
    await nsm.start();
    await nsm.start();
    expect(vi.getTimerCount()).toBe(1);
  });
});
