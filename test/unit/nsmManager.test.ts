import { beforeEach, describe, expect, it } from "vitest";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { forwarderEndpoint, forwarderTypeOf } from "../../wire/nsm/api.ts";
import { isHeal } from "../../nsm/connection.ts";
import { NsmError } from "../../nsm/errors.ts";
import { ForwarderRegistry } from "../../nsm/forwarder.ts";
import type { Forwarder } from "../../nsm/forwarder.ts";
import { Manager } from "../../nsm/manager.ts";
import type { ConnectionStore } from "../../nsm/manager.ts";
import { Registry } from "../../nsm/registry.ts";
import type { RecordStore } from "../../nsm/registry.ts";

function records<T>(): RecordStore<T> {
  const m = new Map<string, T>();
  return { get: (n) => m.get(n), put: (n, r) => void m.set(n, r), delete: (n) => m.delete(n), list: () => [...m.values()] };
}

function connections(): ConnectionStore & { map: Map<string, Connection> } {
  const map = new Map<string, Connection>();
  return { map, get: (id) => map.get(id), set: (id, s) => void map.set(id, s), delete: (id) => void map.delete(id), list: () => [...map.values()] };
}

/** A forwarder that "builds" interfaces in a set and records every call (the connection it was handed). */
function fakeForwarder(type: string) {
  const built = new Map<string, string>();
  const calls: Array<{ op: string; call: Connection }> = [];
  let fail: Error | undefined;
  const forwarder: Forwarder = {
    type,
    name: type,
    async request(call, next) {
      calls.push({ op: "request", call });
      if (fail) throw fail;
      const name = call.mechanism?.parameters?.name ?? `nsm-${built.size + 1}`;
      built.set(call.id, name);
      return next.request({ ...call, mechanism: { ...call.mechanism!, parameters: { ...call.mechanism!.parameters, name } }, state: "UP" });
    },
    async close(call, next) {
      calls.push({ op: "close", call });
      built.delete(call.id);
      await next.close(call);
    },
  };
  return { forwarder, built, calls, failWith: (e: Error | undefined) => (fail = e) };
}

function request(id: string, service: string, extra: Partial<Connection> = {}): NetworkServiceRequest {
  return {
    connection: { id, network_service: service, labels: { nodeName: "k8s-1", podName: "red-pod" }, ...extra },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: "t-pod-red-pod" } }],
  };
}

describe("manager", () => {
  let registry: Registry;
  let store: ReturnType<typeof connections>;
  let tungsten: ReturnType<typeof fakeForwarder>;
  let kernel: ReturnType<typeof fakeForwarder>;
  let manager: Manager;

  beforeEach(() => {
    tungsten = fakeForwarder("tungsten");
    kernel = fakeForwarder("kernel");
    const forwarders = new ForwarderRegistry([tungsten.forwarder, kernel.forwarder]);
    registry = new Registry({ services: records(), endpoints: records() }, { checkService: (s) => forwarders.checkService(s) });
    store = connections();
    manager = new Manager({ registry, connections: store, forwarders });
    registry.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
    registry.registerEndpoint(forwarderEndpoint("kernel", "k8s-1"));
    registry.registerService({ name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } });
  });

  it("refuses a request for an unknown network service with 404 naming it, and builds nothing", async () => {
    const err = await manager.request(request("c1", "green")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NsmError);
    expect((err as NsmError).status).toBe(404);
    expect((err as NsmError).message).toContain('"green"');
    expect(tungsten.calls).toEqual([]);
    expect(store.map.size).toBe(0);
  });

  it("refuses with 400 when the service's forwarder is not registered on the pod's node, and builds nothing", async () => {
    const err = (await manager.request(request("c1", "red", { labels: { nodeName: "k8s-2" } })).catch((e: unknown) => e)) as NsmError;
    expect(err.status).toBe(400);
    expect(err.message).toContain('forwarder "tungsten"');
    expect(err.message).toContain('node "k8s-2"');
    expect(tungsten.calls).toEqual([]);
    expect(store.map.size).toBe(0);
  });

  it("refuses with 400 a service whose forwarder type no forwarder implements", async () => {
    expect(() => registry.registerService({ name: "odd", payload: "ETHERNET", forwarder: "vpp" })).toThrow(/unknown forwarder "vpp"/);
    registry.registerEndpoint(forwarderEndpoint("vpp", "k8s-1"));
    const lenient = new Registry({ services: records(), endpoints: records() });
    lenient.registerService({ name: "odd", payload: "ETHERNET", forwarder: "vpp" });
    lenient.registerEndpoint(forwarderEndpoint("vpp", "k8s-1"));
    const m = new Manager({ registry: lenient, connections: connections(), forwarders: new ForwarderRegistry([tungsten.forwarder]) });
    const err = (await m.request(request("c1", "odd")).catch((e: unknown) => e)) as NsmError;
    expect(err.status).toBe(400);
    expect(err.message).toContain('unknown forwarder "vpp"');
    expect(tungsten.calls).toEqual([]);
  });

  it("refuses requests without the client's node or a kernel mechanism", async () => {
    await expect(manager.request(request("c1", "red", { labels: {} }))).rejects.toThrow(/nodeName/);
    await expect(manager.request({ ...request("c1", "red"), mechanism_preferences: [{ cls: "LOCAL", type: "MEMIF" }] })).rejects.toThrow(
      /no KERNEL mechanism/,
    );
    await expect(manager.request({ ...request("c1", "red"), mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: {} }] })).rejects.toThrow(
      /network namespace/,
    );
    expect(tungsten.calls).toEqual([]);
  });

  it("passes a request to the forwarder the service names on the pod's node and remembers the connection", async () => {
    const conn = await manager.request(request("c1", "red"));
    expect(conn.state).toBe("UP");
    expect(tungsten.calls).toHaveLength(1);
    const call = tungsten.calls[0]!.call;
    expect(call).toMatchObject({ labels: { nodeName: "k8s-1" }, network_service_endpoint_name: "tungsten@k8s-1", network_service: "red" });
    expect(isHeal(call)).toBe(false);
    expect(call.context?.extra_context).toEqual({ "tungsten.virtual_network": "default-domain:admin:red" });
    expect(call.mechanism?.parameters).toMatchObject({ netnsName: "t-pod-red-pod", inodeURL: "file:///var/run/netns/t-pod-red-pod" });
    expect(kernel.calls).toEqual([]);
    expect(manager.get("c1")).toEqual(conn);
    expect(store.map.get("c1")).toMatchObject({ network_service_endpoint_name: "tungsten@k8s-1", labels: { nodeName: "k8s-1" } });
    expect(forwarderTypeOf(store.map.get("c1")!.network_service_endpoint_name)).toBe("tungsten");
  });

  it("treats a repeated request as a heal of the same interface", async () => {
    const first = await manager.request(request("c1", "red"));
    const again = await manager.request(request("c1", "red"));
    expect(tungsten.built.size).toBe(1);
    expect(isHeal(tungsten.calls[1]!.call)).toBe(true);
    // The generated interface name is kept although the client did not repeat it.
    expect(again.mechanism?.parameters?.name).toBe(first.mechanism?.parameters?.name);
    expect(manager.list()).toHaveLength(1);
  });

  it("closes through the forwarder that built the connection, with the service as it was; a second close is a no-op", async () => {
    await manager.request(request("c1", "red"));
    registry.registerService({ name: "red", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } });
    await manager.close({ id: "c1" });
    expect(tungsten.calls.map((c) => c.op)).toEqual(["request", "close"]);
    expect(forwarderTypeOf(tungsten.calls[1]!.call.network_service_endpoint_name)).toBe("tungsten");
    expect(tungsten.calls[1]!.call.context?.extra_context?.["tungsten.virtual_network"]).toBe("default-domain:admin:red");
    expect(kernel.calls).toEqual([]);
    expect(manager.get("c1")).toBeUndefined();
    await manager.close({ id: "c1" });
    expect(tungsten.calls).toHaveLength(2);
  });

  it("keeps the connection when its close fails, so the close can be retried", async () => {
    await manager.request(request("c1", "red"));
    const failing = { ...tungsten.forwarder, close: async () => Promise.reject(new Error("agent down")) };
    const m = new Manager({ registry, connections: store, forwarders: new ForwarderRegistry([failing, kernel.forwarder]) });
    await expect(m.close({ id: "c1" })).rejects.toThrow(/agent down/);
    expect(m.get("c1")).toBeDefined();
  });

  it("reselects when the service moved to another forwarder: closes the old interface, builds the new one", async () => {
    await manager.request(request("c1", "red"));
    registry.registerService({ name: "red", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.60.0.0/24" } });
    const conn = await manager.request(request("c1", "red"));
    expect(tungsten.calls.map((c) => c.op)).toEqual(["request", "close"]);
    expect(kernel.calls.map((c) => [c.op, isHeal(c.call)])).toEqual([["request", false]]);
    expect(conn.state).toBe("UP");
    expect(forwarderTypeOf(store.map.get("c1")?.network_service_endpoint_name)).toBe("kernel");
  });

  it("does not remember a new connection whose forwarder failed", async () => {
    tungsten.failWith(new Error("TF unreachable"));
    await expect(manager.request(request("c1", "red"))).rejects.toThrow(/TF unreachable/);
    expect(manager.list()).toEqual([]);
  });

  it("closes every connection of a pod", async () => {
    await manager.request(request("c1", "red"));
    await manager.request(request("c2", "red"));
    await manager.request(request("c3", "red", { labels: { nodeName: "k8s-1", podName: "other" } }));
    await manager.closeWhere((c) => c.labels?.podName === "red-pod");
    expect(manager.list().map((c) => c.id)).toEqual(["c3"]);
  });

  it("heals every stored connection by re-requesting it", async () => {
    await manager.request(request("c1", "red"));
    tungsten.built.clear(); // the data plane lost it
    const results = await manager.heal();
    expect(results.map((r) => r.error)).toEqual([undefined]);
    expect(tungsten.built.get("c1")).toBe("nsm-1");
    expect(isHeal(tungsten.calls.at(-1)!.call)).toBe(true);
  });
});

describe("registry", () => {
  const registry = () => new Registry({ services: records(), endpoints: records() });

  it("refuses records with a clear message naming the problem", () => {
    expect(() => registry().registerService({ name: "Red!", payload: "ETHERNET", forwarder: "tungsten" })).toThrow(/name/);
    expect(() => registry().registerService({ name: "red", payload: "MPLS", forwarder: "tungsten" })).toThrow(/payload/);
    expect(() => registry().registerService({ name: "red", payload: "IP", forwarder: "tungsten", colour: "red" })).toThrow(/unknown field.*colour/);
    expect(() => registry().registerEndpoint({ name: "x@y", network_service_names: [] })).toThrow(/network_service_names/);
  });

  it("finds a forwarder only under its own name, service and labels", () => {
    const r = registry();
    r.registerEndpoint(forwarderEndpoint("tungsten", "k8s-1"));
    r.registerEndpoint({ name: "kernel@k8s-1", network_service_names: ["red"] });
    expect(r.findForwarder("tungsten", "k8s-1")?.name).toBe("tungsten@k8s-1");
    expect(r.findForwarder("tungsten", "k8s-2")).toBeUndefined();
    expect(r.findForwarder("kernel", "k8s-1")).toBeUndefined();
    expect(r.listEndpoints("forwarder").map((e) => e.name)).toEqual(["tungsten@k8s-1"]);
  });
});
