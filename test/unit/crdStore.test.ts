// The registry backed by NSM's CRs (lab/nsm/crdStore.ts) against an in-memory API server of
// NetworkService / NetworkServiceEndpoint objects (list, watch with resourceVersions and 410,
// apply, delete): the cache loads from a list of all namespaces; the registry's writes become CRs
// in its namespace, answered once written; others' CRs and deletions reach the registry's
// watchers, each once; invalid CRs are skipped with a log line; a 410 lists again; a failed write
// rejects its flush and leaves the cache as the API server has it; the sqlite records migrate.
import { afterEach, describe, expect, it } from "vitest";
import { NsmError } from "../../nsm/errors.ts";
import { Registry } from "../../nsm/registry.ts";
import type { RecordStore, RegistryChange, RegistryStore } from "../../nsm/registry.ts";
import { CrRegistryStore } from "../../lab/nsm/crdStore.ts";
import type { CrClient } from "../../lab/nsm/crdStore.ts";
import type { KubeList, KubeObject, WatchEvent } from "../../wire/kubernetes.ts";
import { WatchExpired } from "../../wire/kubernetes.ts";
import type { NetworkService, NetworkServiceEndpoint } from "../../wire/nsm/api.ts";
import { forwarderEndpoint } from "../../wire/nsm/api.ts";
import { crName, networkServiceCr } from "../../wire/nsm/crd.ts";
import type { NsmCr } from "../../wire/nsm/crd.ts";
import { eventually } from "../../harness/eventually.ts";

const RED: NetworkService = { name: "red", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: "default-domain:admin:red" } };
const BLUE: NetworkService = { name: "blue", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.7.0.0/24" } };

interface Stored {
  plural: string;
  obj: NsmCr;
}

/** An API server of the two NSM resources, enough for the store: every write is an event with the next resourceVersion. */
class FakeNsmApi implements CrClient {
  rv = 100;
  readonly objects = new Map<string, Stored>();
  readonly events: Array<{ rv: number; plural: string; event: WatchEvent<NsmCr> }> = [];
  /** Events up to this resourceVersion are compacted: a watch from before it is a 410. */
  compactedTo = 0;
  failWrites: string | undefined;
  /** How long a watch takes to pass events on: the writes' answers come first. */
  lagMs = 0;
  writes: string[] = [];
  private wake: Array<() => void> = [];

  private parse(path: string) {
    const [p, query = ""] = path.split("?");
    const m = /^\/apis\/networkservicemesh\.io\/v1(?:\/namespaces\/([^/]+))?\/(networkservices|networkserviceendpoints)(?:\/([^/]+))?$/.exec(p!);
    if (!m) throw new Error(`fake: no route ${path}`);
    return { namespace: m[1], plural: m[2]!, name: m[3] === undefined ? undefined : decodeURIComponent(m[3]), query: new URLSearchParams(query) };
  }

  private emit(plural: string, type: "ADDED" | "MODIFIED" | "DELETED", obj: NsmCr) {
    this.events.push({ rv: Number(obj.metadata.resourceVersion), plural, event: { type, object: structuredClone(obj) } });
    for (const w of this.wake.splice(0)) w();
  }

  /** What kubectl does: writes the object as given. */
  kubectlApply(plural: string, obj: NsmCr): NsmCr {
    const key = `${plural}/${obj.metadata.namespace}/${obj.metadata.name}`;
    const had = this.objects.has(key);
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, { plural, obj: stored });
    this.emit(plural, had ? "MODIFIED" : "ADDED", stored);
    return structuredClone(stored);
  }

  remove(plural: string, namespace: string, name: string): boolean {
    const key = `${plural}/${namespace}/${name}`;
    const s = this.objects.get(key);
    if (!s) return false;
    this.objects.delete(key);
    this.emit(plural, "DELETED", { ...s.obj, metadata: { ...s.obj.metadata, resourceVersion: String(++this.rv) } });
    return true;
  }

  /** Forgets the events so far: watches from before now answer 410. */
  compact(): void {
    this.compactedTo = this.rv;
    for (const w of this.wake.splice(0)) w();
  }

  crs(plural: string): NsmCr[] {
    return [...this.objects.values()].filter((s) => s.plural === plural).map((s) => s.obj);
  }

  async get<T extends KubeObject>(path: string): Promise<T | undefined> {
    const { namespace, plural, name } = this.parse(path);
    return structuredClone(this.objects.get(`${plural}/${namespace}/${name}`)?.obj) as T | undefined;
  }

  async list<T extends KubeObject>(path: string): Promise<KubeList<T>> {
    const { namespace, plural } = this.parse(path);
    const items = this.crs(plural).filter((o) => namespace === undefined || o.metadata.namespace === namespace);
    return { metadata: { resourceVersion: String(this.rv) }, items: structuredClone(items) as unknown as T[] };
  }

  async patch<T extends KubeObject>(path: string, body: unknown, type?: string): Promise<T | undefined> {
    const { namespace, plural, name, query } = this.parse(path);
    this.writes.push(`apply ${namespace}/${name}`);
    if (type !== "apply" || query.get("force") !== "true" || !query.get("fieldManager")) throw new Error(`fake: expected a forced server-side apply, got ${type} ${path}`);
    if (this.failWrites) throw new Error(this.failWrites);
    const obj = body as NsmCr;
    if (obj.metadata.namespace !== namespace || obj.metadata.name !== name) throw new Error("fake: the body names another object than the path");
    return this.kubectlApply(plural, obj) as unknown as T;
  }

  /** The client's server-side apply, as KubernetesClient.apply sends it. */
  async apply<T extends KubeObject>(path: string, body: KubeObject, fieldManager: string): Promise<T | undefined> {
    return this.patch<T>(`${path}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`, body, "apply");
  }

  async delete(path: string): Promise<boolean> {
    const { namespace, plural, name } = this.parse(path);
    this.writes.push(`delete ${namespace}/${name}`);
    if (this.failWrites) throw new Error(this.failWrites);
    return this.remove(plural, namespace!, name!);
  }

  async *watch<T extends KubeObject>(path: string, opts: { resourceVersion: string; signal?: AbortSignal }): AsyncGenerator<WatchEvent<T>> {
    const { plural } = this.parse(path);
    let at = Number(opts.resourceVersion);
    for (;;) {
      if (opts.signal?.aborted) throw new Error("aborted");
      if (at < this.compactedTo) throw new WatchExpired(`too old resource version: ${at} (${this.compactedTo})`);
      const next = this.events.filter((e) => e.plural === plural && e.rv > at);
      if (next.length && this.lagMs) await new Promise((r) => setTimeout(r, this.lagMs));
      for (const e of next) {
        at = e.rv;
        yield structuredClone(e.event) as unknown as WatchEvent<T>;
      }
      if (next.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake.push(resolve);
          opts.signal?.addEventListener("abort", () => resolve(), { once: true });
        });
      }
    }
  }
}

function memoryStore<T extends { name: string }>(records: T[]): RecordStore<T> {
  const map = new Map(records.map((r) => [r.name, r]));
  return { get: (n) => map.get(n), put: (n, r) => void map.set(n, r), delete: (n) => map.delete(n), list: () => [...map.values()] };
}

/** Until `check` stops throwing (the watch delivers asynchronously). */
const until = (what: string, check: () => void) =>
  eventually(
    () => {
      check();
      return true;
    },
    { what, timeoutMs: 2000, intervalMs: 5 },
  );

const nsCr = (spec: unknown, name: string, namespace = "default"): NsmCr => ({ apiVersion: "networkservicemesh.io/v1", kind: "NetworkService", metadata: { name, namespace }, spec });

let store: CrRegistryStore | undefined;
afterEach(async () => {
  await store?.stop();
  store = undefined;
});

async function setup(api = new FakeNsmApi(), opts: { migrateFrom?: RegistryStore; now?: () => number } = {}) {
  const lines: string[] = [];
  store = new CrRegistryStore({ namespace: "nsm-system", log: (l) => lines.push(l), retryMs: 10 });
  const registry = new Registry(store, { ...(opts.now ? { now: opts.now } : {}) });
  const services: Array<RegistryChange<NetworkService>> = [];
  const endpoints: Array<RegistryChange<NetworkServiceEndpoint>> = [];
  registry.watchServices((c) => services.push(c));
  registry.watchEndpoints((c) => endpoints.push(c));
  await store.load(api, opts.migrateFrom ? { migrateFrom: opts.migrateFrom } : {});
  return { api, store, registry, lines, services, endpoints };
}

describe("the registry on NSM's CRs", () => {
  it("answers 503 until loaded", () => {
    store = new CrRegistryStore({ namespace: "nsm-system", log: () => {} });
    const registry = new Registry(store);
    expect(() => registry.listServices()).toThrow(NsmError);
    expect(() => registry.registerService(RED)).toThrow(/not loaded yet/);
    try {
      registry.getService("red");
    } catch (e) {
      expect((e as NsmError).status).toBe(503);
    }
  });

  it("loads the CRs of every namespace without telling them as changes", async () => {
    const api = new FakeNsmApi();
    api.kubectlApply("networkservices", networkServiceCr(RED, "nsm-system"));
    api.kubectlApply("networkservices", networkServiceCr(BLUE, "tenant-a"));
    const { registry, services } = await setup(api);
    expect(registry.listServices().map((s) => s.name)).toEqual(["blue", "red"]);
    expect(registry.getService("blue")).toEqual(BLUE);
    expect(services).toEqual([]);
  });

  it("writes a registration as a CR in its namespace before the flush resolves, and hears its echo as nothing new", async () => {
    const { api, registry, services } = await setup();
    registry.registerService(RED);
    await registry.serviceWritten("red");
    const [written] = api.crs("networkservices");
    expect(written).toMatchObject(networkServiceCr(RED, "nsm-system"));
    registry.registerEndpoint({ ...forwarderEndpoint("tungsten", "k8s-1", "unix:///t.sock"), expiration_time: "2030-01-01T00:00:00.000Z" });
    await registry.endpointWritten("tungsten@k8s-1");
    const [nse] = api.crs("networkserviceendpoints");
    expect(nse!.metadata).toMatchObject({ name: crName("tungsten@k8s-1"), namespace: "nsm-system" });
    expect(nse!.spec).toMatchObject({ name: "tungsten@k8s-1", expiration_time: { seconds: 1893456000 } });
    await new Promise((r) => setTimeout(r, 50));
    expect(services).toEqual([{ record: RED, deleted: false }]);
  });

  it("writes one record's changes in order, and their late echoes change nothing back", async () => {
    const { api, registry, services } = await setup();
    api.lagMs = 20;
    registry.registerService(RED);
    registry.registerService({ ...RED, payload: "IP" });
    registry.unregisterService("red");
    registry.registerService(RED);
    registry.registerService({ ...RED, payload: "IP" });
    await registry.serviceWritten("red");
    expect(api.writes).toEqual(["apply nsm-system/red", "apply nsm-system/red", "delete nsm-system/red", "apply nsm-system/red", "apply nsm-system/red"]);
    expect(api.crs("networkservices")[0]!.spec).toMatchObject({ payload: "IP" });
    await new Promise((r) => setTimeout(r, 50));
    expect(registry.getService("red")?.payload).toBe("IP");
    expect(services.map((c) => [c.record.payload, c.deleted])).toEqual([
      ["ETHERNET", false],
      ["IP", false],
      ["IP", true],
      ["ETHERNET", false],
      ["IP", false],
    ]);
  });

  it("takes in what others apply and delete, in any namespace, and tells the registry's watchers once", async () => {
    const { api, registry, services } = await setup();
    const spec = { name: "green", payload: "ETHERNET", matches: [{ metadata: { labels: { type: "kernel" } }, routes: [{ destination_selector: { "kernel.cidr": "10.8.0.0/24" } }] }] };
    api.kubectlApply("networkservices", nsCr(spec, "green"));
    await until("the watch to deliver (1)", () => expect(registry.getService("green")).toEqual({ name: "green", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.8.0.0/24" } }));
    api.kubectlApply("networkservices", nsCr({ ...spec, payload: "IP" }, "green"));
    await until("the watch to deliver (2)", () => expect(registry.getService("green")?.payload).toBe("IP"));
    // The same spec again (kubectl apply of an unchanged file) changes nothing.
    api.kubectlApply("networkservices", nsCr({ ...spec, payload: "IP" }, "green"));
    api.remove("networkservices", "default", "green");
    await until("the watch to deliver (3)", () => expect(registry.getService("green")).toBeUndefined());
    expect(services.map((c) => [c.record.payload, c.deleted])).toEqual([
      ["ETHERNET", false],
      ["IP", false],
      ["IP", true],
    ]);
    // A registration of a record that came from another namespace updates that CR.
    api.kubectlApply("networkservices", nsCr(spec, "green", "tenant-b"));
    await until("the watch to deliver (4)", () => expect(registry.getService("green")).toBeDefined());
    registry.registerService({ name: "green", payload: "IP", forwarder: "kernel", kernel: { cidr: "10.8.0.0/24" } });
    await registry.serviceWritten("green");
    expect(api.writes.at(-1)).toBe("apply tenant-b/green");
    registry.unregisterService("green");
    await registry.serviceWritten("green");
    expect(api.writes.at(-1)).toBe("delete tenant-b/green");
  });

  it("skips a CR that holds no valid record with a log line naming it and why, and keeps serving", async () => {
    const { api, registry, lines, services } = await setup();
    registry.registerService(RED);
    api.kubectlApply("networkservices", nsCr({ name: "Bad_Name", payload: "ETHERNET" }, "bad"));
    api.kubectlApply("networkservices", nsCr({ name: "typo", paylod: "IP" }, "typo"));
    await until("the watch to deliver (5)", () => expect(lines.filter((l) => l.includes("skipped"))).toHaveLength(2));
    expect(lines).toContainEqual(expect.stringMatching(/^registry: NetworkService default\/bad skipped: invalid network service: name: name "Bad_Name" is not a DNS-1123 label/));
    expect(lines).toContainEqual(expect.stringMatching(/^registry: NetworkService default\/typo skipped: spec: .*key "paylod" is unknown/));
    expect(registry.listServices().map((s) => s.name)).toEqual(["red"]);
    // A valid CR broken by an edit is no record any more.
    const spec = { name: "ok", payload: "ETHERNET", matches: [{ metadata: { labels: { type: "kernel" } }, routes: [{ destination_selector: { "kernel.cidr": "10.8.0.0/24" } }] }] };
    api.kubectlApply("networkservices", nsCr(spec, "ok"));
    await until("the watch to deliver (6)", () => expect(registry.getService("ok")).toBeDefined());
    api.kubectlApply("networkservices", nsCr({ ...spec, payload: 7 }, "ok"));
    await until("the watch to deliver (7)", () => expect(registry.getService("ok")).toBeUndefined());
    expect(services.at(-1)).toMatchObject({ record: { name: "ok" }, deleted: true });
  });

  it("lists again after a 410, telling what changed while it was not watching", async () => {
    const { api, registry, lines, services } = await setup();
    registry.registerService(RED);
    registry.registerService(BLUE);
    await Promise.all([registry.serviceWritten("red"), registry.serviceWritten("blue")]);
    await new Promise((r) => setTimeout(r, 20));
    // The events are gone: the watch that reconnects cannot catch up with them.
    const spec = { name: "late", payload: "IP", matches: [{ metadata: { labels: { type: "kernel" } }, routes: [{ destination_selector: { "kernel.cidr": "10.6.0.0/24" } }] }] };
    api.events.length = 0;
    api.objects.delete("networkservices/nsm-system/blue");
    api.kubectlApply("networkservices", nsCr(spec, "late"));
    api.events.length = 0;
    api.compact();
    await until("the watch to deliver (8)", () => expect(registry.listServices().map((s) => s.name)).toEqual(["late", "red"]));
    expect(lines).toContainEqual(expect.stringMatching(/watch of networkservices expired .*listing them again/));
    expect(services.slice(-2)).toEqual([
      { record: expect.objectContaining({ name: "late" }), deleted: false },
      { record: BLUE, deleted: true },
    ]);
  });

  it("rejects the flush of a write the API server refused, and keeps what it has", async () => {
    const { api, registry, services } = await setup();
    registry.registerService(RED);
    await registry.serviceWritten("red");
    api.failWrites = "the API server said no";
    registry.registerService({ ...RED, payload: "IP" });
    await expect(registry.serviceWritten("red")).rejects.toThrow(/could not write network service "red" as NetworkService nsm-system\/red to the Kubernetes API server: the API server said no/);
    expect(registry.getService("red")).toEqual(RED);
    registry.registerService(BLUE);
    const refused = await registry.serviceWritten("blue").catch((e: NsmError) => e);
    expect((refused as NsmError).status).toBe(502);
    expect(registry.getService("blue")).toBeUndefined();
    expect(services.map((c) => [c.record.name, c.record.payload, c.deleted])).toEqual([
      ["red", "ETHERNET", false],
      ["red", "IP", false],
      ["red", "ETHERNET", false],
      ["blue", "ETHERNET", false],
      ["blue", "ETHERNET", true],
    ]);
  });

  it("deletes an expired endpoint's CR", async () => {
    let now = Date.parse("2024-05-01T12:00:00Z");
    const { api, registry, endpoints } = await setup(new FakeNsmApi(), { now: () => now });
    registry.registerEndpoint({ ...forwarderEndpoint("kernel", "k8s-1", "unix:///k.sock"), expiration_time: "2024-05-01T12:00:01Z" });
    await registry.endpointWritten("kernel@k8s-1");
    expect(api.crs("networkserviceendpoints")).toHaveLength(1);
    now += 2000;
    expect(registry.listEndpoints()).toEqual([]);
    await registry.endpointWritten("kernel@k8s-1");
    expect(api.crs("networkserviceendpoints")).toEqual([]);
    expect(endpoints.at(-1)).toMatchObject({ record: { name: "kernel@k8s-1" }, deleted: true });
  });

  it("moves the sqlite tables' services into CRs (a CR of the same name wins) and empties them", async () => {
    const api = new FakeNsmApi();
    api.kubectlApply("networkservices", networkServiceCr({ ...BLUE, payload: "IP" }, "nsm-system"));
    const services = memoryStore([RED, BLUE]);
    const endpointRows = memoryStore([forwarderEndpoint("tungsten", "k8s-1")]);
    const { registry, lines } = await setup(api, { migrateFrom: { services, endpoints: endpointRows } });
    expect(api.crs("networkservices").map((c) => [c.metadata.name, (c.spec as { payload: string }).payload]).sort()).toEqual([
      ["blue", "IP"],
      ["red", "ETHERNET"],
    ]);
    expect(registry.getService("red")).toEqual(RED);
    expect(services.list()).toEqual([]);
    expect(endpointRows.list()).toEqual([]);
    expect(api.crs("networkserviceendpoints")).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/moved 1 service\(s\) .* \(1 had a CR already; 1 endpoint\(s\) dropped/));
  });
});
