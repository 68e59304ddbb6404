// The lab's NSM HTTP API, driven with the provider's NSM client: statuses, error bodies, upserts,
// idempotent close, persistence in sqlite. Forwarders are fakes here (test/lab covers the real ones).
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, HttpError } from "../../lib/http/client.ts";
import { close, listen } from "../../lib/http/server.ts";
import { createNsmServer } from "../../lab/nsm/server.ts";
import { nsmStores } from "../../lab/nsm/store.ts";
import { NsmClient } from "../../wire/nsm/client.ts";
import type { NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { forwarderEndpoint } from "../../wire/nsm/api.ts";
import { ForwarderRegistry } from "../../nsm/forwarder.ts";
import type { Forwarder } from "../../nsm/forwarder.ts";
import { Manager } from "../../nsm/manager.ts";
import { Registry } from "../../nsm/registry.ts";

const db = new DatabaseSync(":memory:");
const built = new Set<string>();
/** Connections whose data plane the fake forwarder's check finds broken. */
const broken = new Set<string>();
let failNext: Error | undefined;
const fake: Forwarder = {
  type: "tungsten",
  name: "tungsten",
  checkService: (s) => (s.tungsten?.virtual_network ? undefined : "tungsten.virtual_network is required"),
  async request(conn, next) {
    if (failNext) {
      const e = failNext;
      failNext = undefined;
      throw e;
    }
    built.add(conn.id);
    return next.request({ ...conn, state: "UP", context: { ip_context: { src_ip_addrs: ["10.1.1.5/24"] } } });
  },
  async close(conn, next) {
    built.delete(conn.id);
    await next.close(conn);
  },
  check: async (conn, next) => (broken.has(conn.id) ? `interface of ${conn.id} is gone` : next.check(conn)),
};

function build() {
  const stores = nsmStores(db);
  const forwarders = new ForwarderRegistry([fake]);
  const registry = new Registry(stores, { checkService: (s) => forwarders.checkService(s) });
  const manager = new Manager({ registry, connections: stores.connections, forwarders });
  return { registry, manager, server: createNsmServer({ registry, manager }) };
}

let server: ReturnType<typeof build>["server"];
let client: NsmClient;
let raw: HttpClient;

beforeAll(async () => {
  const nsm = build();
  nsm.registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
  server = nsm.server;
  const port = await listen(server, 0);
  client = new NsmClient(`http://127.0.0.1:${port}`, { retries: 0 });
  raw = new HttpClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 0 });
});

afterAll(async () => {
  await close(server);
});

const red = { name: "red", payload: "ETHERNET" as const, forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } };
const req = (id: string, service = "red"): NetworkServiceRequest => ({
  connection: { id, network_service: service, labels: { nodeName: "k8s-1", podName: "p" } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "x-pod-p" } }],
});
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as HttpError);

describe("NSM HTTP API", () => {
  it("upserts and reads network services; unknown ones are 404 with an error body", async () => {
    expect(await client.upsertNetworkService(red)).toEqual(red);
    expect(await client.upsertNetworkService({ ...red, payload: "IP" })).toMatchObject({ payload: "IP" });
    expect(await client.listNetworkServices()).toEqual([{ ...red, payload: "IP" }]);
    await client.upsertNetworkService(red);
    const err = await errorOf(raw.get("/registry/network-services/blue"));
    expect(err?.status).toBe(404);
    expect(err?.body).toEqual({ error: 'network service "blue" is not registered' });
  });

  it("refuses invalid records with 400 naming the problem", async () => {
    const err = await errorOf(client.upsertNetworkService({ name: "green", payload: "ETHERNET", forwarder: "tungsten" }));
    expect(err?.status).toBe(400);
    expect(err?.serverMessage).toContain("tungsten.virtual_network is required");
    const unknown = await errorOf(client.upsertNetworkService({ name: "green", payload: "ETHERNET", forwarder: "vpp" }));
    expect(unknown?.serverMessage).toContain('unknown forwarder "vpp"');
  });

  it("lists forwarder endpoints by service", async () => {
    expect((await client.listEndpoints("forwarder")).map((e) => e.name)).toEqual(["tungsten@k8s-1"]);
    expect(await client.listEndpoints("red")).toEqual([]);
  });

  it("answers a request with the forwarder's connection and remembers it", async () => {
    const conn = await client.request(req("c1"));
    expect(conn).toMatchObject({ id: "c1", state: "UP", network_service: "red" });
    expect(await client.getConnection("c1")).toEqual(conn);
    expect((await client.listConnections()).map((c) => c.id)).toEqual(["c1"]);
  });

  it("answers 404 for a request of an unknown service and 400 for a node without the forwarder", async () => {
    const unknown = await errorOf(client.request(req("c2", "blue")));
    expect(unknown?.status).toBe(404);
    expect(unknown?.serverMessage).toContain('"blue"');
    const r = req("c2");
    r.connection.labels!.nodeName = "k8s-9";
    const noForwarder = await errorOf(client.request(r));
    expect(noForwarder?.status).toBe(400);
    expect(noForwarder?.serverMessage).toContain('node "k8s-9"');
    expect(built.has("c2")).toBe(false);
  });

  it("answers 502 when what is behind a forwarder fails, naming where", async () => {
    failNext = new HttpError("POST", "http://127.0.0.1:9/port", 500, "{ agent exploded }", undefined);
    const err = await errorOf(client.request(req("c3")));
    expect(err?.status).toBe(502);
    expect(err?.serverMessage).toContain("agent exploded");
    expect(await client.getConnection("c3")).toBeUndefined();
  });

  it("refuses to delete a service in use (409), then closes idempotently and deletes", async () => {
    const inUse = await errorOf(client.deleteNetworkService("red"));
    expect(inUse?.status).toBe(409);
    expect(inUse?.serverMessage).toContain("c1");
    await client.close({ id: "c1" });
    await client.close({ id: "c1" });
    expect(built.size).toBe(0);
    await client.deleteNetworkService("red");
    expect(await client.getNetworkService("red")).toBeUndefined();
    expect((await errorOf(raw.delete("/registry/network-services/red")))?.status).toBe(404);
  });

  it("answers one connection with the state its forwarder finds now; the list shows them as stored", async () => {
    await client.upsertNetworkService(red);
    const conn = await client.request(req("c5"));
    broken.add("c5");
    expect(await client.getConnection("c5")).toEqual({ ...conn, state: "DOWN" });
    expect((await client.listConnections()).find((c) => c.id === "c5")?.state).toBe("UP");
    broken.delete("c5");
    expect(await client.getConnection("c5")).toEqual(conn);
    await client.close({ id: "c5" });
  });

  it("keeps registry records and connections across a restart (sqlite)", async () => {
    await client.upsertNetworkService(red);
    await client.request(req("c4"));
    const again = build();
    expect(again.registry.getService("red")).toEqual(red);
    expect(again.manager.get("c4")?.state).toBe("UP");
    await client.close({ id: "c4" });
  });
});

describe("NSM store", () => {
  it("migrates a connection stored by tfmesh 0.2 ({connection, service, node, endpoint, forwarder}) to the connection alone", () => {
    const old = new DatabaseSync(":memory:");
    old.exec("CREATE TABLE nsm_connection (id TEXT PRIMARY KEY, record TEXT NOT NULL)");
    const connection = { id: "c1", network_service: "red", labels: { nodeName: "k8s-1" }, state: "UP", context: { extra_context: { "tungsten.vmi_uuid": "v-1" } } };
    const record = { connection, service: red, node: "k8s-1", endpoint: "tungsten@k8s-1", forwarder: "tungsten" };
    old.prepare("INSERT INTO nsm_connection (id, record) VALUES (?, ?)").run("c1", JSON.stringify(record));
    expect(nsmStores(old).connections.get("c1")).toEqual({
      ...connection,
      payload: "ETHERNET",
      network_service_endpoint_name: "tungsten@k8s-1",
      context: { extra_context: { "tungsten.vmi_uuid": "v-1", "tungsten.virtual_network": "default-domain:admin:red", "tungsten.plugged_port": "v-1" } },
    });
  });
});
