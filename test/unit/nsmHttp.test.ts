// The lab's NSM API (lab/nsm): the registry and the manager over NSM's gRPC API as the provider's
// client drives them (upserts, refusals as codes with the manager's messages, idempotent close,
// checked state, persistence in sqlite), and the read-only JSON view beside it (lists and records,
// one connection as its forwarder finds it now, no writes). Forwarders are fakes here (test/lab
// covers the real ones).
import { DatabaseSync } from "node:sqlite";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, HttpError } from "../../lib/http/client.ts";
import { close, listen } from "../../lib/http/server.ts";
import { createNsmGrpcServer } from "../../lab/nsm/grpc/server.ts";
import { createNsmServer } from "../../lab/nsm/server.ts";
import { nsmStores } from "../../lab/nsm/store.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { problemOf, withCheckedState } from "../../wire/nsm/protoMapping.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
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
  return { registry, manager, view: createNsmServer({ registry, manager }), grpc: createNsmGrpcServer({ registry, manager }) };
}

let nsm: ReturnType<typeof build>;
let client: NsmGrpcClient;
let view: HttpClient;

beforeAll(async () => {
  nsm = build();
  nsm.registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
  client = new NsmGrpcClient(`tcp://127.0.0.1:${await listen(nsm.grpc, 0)}`, { timeoutMs: 10_000 });
  view = new HttpClient({ baseUrl: `http://127.0.0.1:${await listen(nsm.view, 0)}`, retries: 0 });
});

afterAll(async () => {
  client?.dispose();
  nsm.grpc.closeAllConnections();
  await Promise.all([close(nsm.view), close(nsm.grpc)]);
});

const red = { name: "red", payload: "ETHERNET" as const, forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } };
const req = (id: string, service = "red"): NetworkServiceRequest => ({
  connection: { id, network_service: service, labels: { nodeName: "k8s-1", podName: "p" } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "x-pod-p" } }],
});
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as HttpError);
const failureOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => ConnectError.from(e));

describe("the lab's NSM over gRPC", () => {
  it("upserts and reads network services; unknown ones read as undefined", async () => {
    expect(await client.upsertNetworkService(red)).toEqual(red);
    expect(await client.upsertNetworkService({ ...red, payload: "IP" })).toMatchObject({ payload: "IP" });
    expect(await client.listNetworkServices()).toEqual([{ ...red, payload: "IP" }]);
    await client.upsertNetworkService(red);
    expect(await client.getNetworkService("blue")).toBeUndefined();
  });

  it("refuses invalid records with INVALID_ARGUMENT naming the problem", async () => {
    const err = await failureOf(client.upsertNetworkService({ name: "green", payload: "ETHERNET", forwarder: "tungsten" }));
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toContain("tungsten.virtual_network is required");
    const unknown = await failureOf(client.upsertNetworkService({ name: "green", payload: "ETHERNET", forwarder: "vpp" }));
    expect(unknown?.rawMessage).toContain('unknown forwarder "vpp"');
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

  it("answers NOT_FOUND for a request of an unknown service and INVALID_ARGUMENT for a node without the forwarder", async () => {
    const unknown = await failureOf(client.request(req("c2", "blue")));
    expect(unknown?.code).toBe(Code.NotFound);
    expect(unknown?.rawMessage).toContain('"blue"');
    const r = req("c2");
    r.connection.labels!.nodeName = "k8s-9";
    const noForwarder = await failureOf(client.request(r));
    expect(noForwarder?.code).toBe(Code.InvalidArgument);
    expect(noForwarder?.rawMessage).toContain('node "k8s-9"');
    expect(built.has("c2")).toBe(false);
  });

  it("answers UNAVAILABLE when what is behind a forwarder fails, naming where", async () => {
    failNext = new HttpError("POST", "http://127.0.0.1:9/port", 500, "{ agent exploded }", undefined);
    const err = await failureOf(client.request(req("c3")));
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.rawMessage).toContain("agent exploded");
    expect(await client.getConnection("c3")).toBeUndefined();
  });

  it("refuses to unregister a service in use (FAILED_PRECONDITION), then closes idempotently and unregisters", async () => {
    const inUse = await failureOf(client.deleteNetworkService("red"));
    expect(inUse?.code).toBe(Code.FailedPrecondition);
    expect(inUse?.rawMessage).toContain("c1");
    await client.close({ id: "c1" });
    await client.close({ id: "c1" });
    expect(built.size).toBe(0);
    await client.deleteNetworkService("red");
    expect(await client.getNetworkService("red")).toBeUndefined();
    expect((await failureOf(client.unregisterService("red")))?.code).toBe(Code.NotFound);
  });

  it("answers one connection with the state its forwarder finds now, the reason in the manager's segment", async () => {
    await client.upsertNetworkService(red);
    const conn = await client.request(req("c5"));
    broken.add("c5");
    const down = await client.getConnection("c5");
    expect(down).toEqual(withCheckedState(conn, "interface of c5 is gone"));
    expect([down?.state, problemOf(down!)]).toEqual(["DOWN", "interface of c5 is gone"]);
    expect((await client.listConnections()).find((c) => c.id === "c5")?.state).toBe("DOWN");
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

describe("the lab's read-only JSON view of NSM", () => {
  it("lists and reads services and endpoints; unknown ones are 404 with an error body", async () => {
    expect((await view.get("/registry/network-services")).body).toEqual([red]);
    expect((await view.get("/registry/network-services/red")).body).toEqual(red);
    const err = await errorOf(view.get("/registry/network-services/blue"));
    expect(err?.status).toBe(404);
    expect(err?.body).toEqual({ error: 'network service "blue" is not registered' });
    expect((await view.get<Array<{ name: string }>>("/registry/network-service-endpoints", { query: { network_service: "forwarder" } })).body.map((e) => e.name)).toEqual(["tungsten@k8s-1"]);
    expect((await errorOf(view.get("/registry/network-service-endpoints/vpp@k8s-1")))?.status).toBe(404);
  });

  it("answers one connection with the state its forwarder finds now; the list shows them as stored", async () => {
    const conn = await client.request(req("c6"));
    broken.add("c6");
    expect((await view.get<Connection>("/nsmgr/connections/c6")).body).toEqual({ ...conn, state: "DOWN" });
    expect((await view.get<Connection[]>("/nsmgr/connections")).body.find((c) => c.id === "c6")?.state).toBe("UP");
    broken.delete("c6");
    expect((await view.get<Connection>("/nsmgr/connections/c6")).body).toEqual(conn);
    expect((await errorOf(view.get("/nsmgr/connections/nobody")))?.status).toBe(404);
    await client.close({ id: "c6" });
  });

  it("takes no writes: Request, Close and registrations are NSM's gRPC API", async () => {
    // 405 where the view reads that path, 404 where it has nothing.
    for (const [method, path, status] of [
      ["POST", "/registry/network-services", 405],
      ["DELETE", "/registry/network-services/red", 405],
      ["POST", "/registry/network-service-endpoints", 405],
      ["DELETE", "/registry/network-service-endpoints/tungsten@k8s-1", 405],
      ["POST", "/nsmgr/request", 404],
      ["POST", "/nsmgr/close", 404],
    ] as const) {
      const err = await errorOf(method === "POST" ? view.post(path, { name: "x", id: "x" }) : view.delete(path));
      expect(err?.status, `${method} ${path}`).toBe(status);
    }
    expect(await client.getNetworkService("red")).toEqual(red);
    expect((await client.listEndpoints("forwarder")).map((e) => e.name)).toEqual(["tungsten@k8s-1"]);
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
