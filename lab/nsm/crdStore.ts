// The lab's NSM registry kept in NSM's Kubernetes CRDs (networkservicemesh.io/v1 NetworkService
// and NetworkServiceEndpoint), as NSM's registry-k8s keeps it: records are written as CRs in the
// registry's own namespace (metadata.name from the record's name, the real one in spec.name), and
// CRs in every namespace are records, so a NetworkService applied with kubectl registers a service.
//
// The registry's stores are synchronous, so this is an informer: a cache loaded by one list of all
// namespaces, kept by a watch (changes others make reach the registry's watchers; a 410 lists
// again), with the registry's own writes applied behind it, in order per record, by server-side
// apply. `flushed(name)` waits for a record's writes, so a Register is answered only once its CR is
// written. Until load() nothing is there to read or write: the store answers 503.
import type { NetworkService, NetworkServiceEndpoint } from "../../wire/nsm/api.ts";
import type { NsmCr } from "../../wire/nsm/crd.ts";
import {
  crName,
  endpointOfCr,
  NETWORK_SERVICE_ENDPOINT_KIND,
  NETWORK_SERVICE_ENDPOINTS,
  NETWORK_SERVICE_KIND,
  NETWORK_SERVICES,
  networkServiceCr,
  networkServiceEndpointCr,
  NSM_API_VERSION,
  serviceOfCr,
} from "../../wire/nsm/crd.ts";
import type { KubernetesClient } from "../../wire/kubernetes.ts";
import { resourcePath, WatchExpired } from "../../wire/kubernetes.ts";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import { NsmError } from "../../nsm/errors.ts";
import type { RecordStore, RegistryChange, RegistryFollower, RegistryStore } from "../../nsm/registry.ts";

/** What the store asks of the API server. */
export type CrClient = Pick<KubernetesClient, "get" | "list" | "watch" | "apply" | "delete">;

export interface CrRegistryStoreOptions {
  /** Where the registry writes the CRs of records registered through it. */
  namespace: string;
  log: (line: string) => void;
  /** Server-side apply's field manager. Default "tfmesh-nsm-registry". */
  fieldManager?: string;
  /** Wait before watching again after a watch failed. Default 1 s. */
  retryMs?: number;
}

interface Where {
  namespace: string;
  name: string;
}

/** How one of the two kinds maps to its CRs. */
interface Kind<T> {
  kind: string;
  plural: string;
  noun: string;
  toCr(record: T, namespace: string): NsmCr & { spec: unknown };
  ofCr(cr: NsmCr): unknown;
}

const keyOf = (w: Where) => `${w.namespace}/${w.name}`;
const numeric = (rv: string | undefined): bigint | undefined => (rv !== undefined && /^\d+$/.test(rv) ? BigInt(rv) : undefined);

/** JSON with object keys sorted: the same spec, however its keys were ordered. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === "object" && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : value,
  );
}

const notLoaded = () =>
  new NsmError(503, "the NSM registry is not loaded yet: it reads its records from the Kubernetes API server's NetworkService and NetworkServiceEndpoint resources once Kubernetes has started");

/** One kind's records: the cache, the CR each came from, and the writes behind it. */
class CrCollection<T extends { name: string }> implements RecordStore<T> {
  private readonly records = new Map<string, T>();
  /** The CR that holds each record. */
  private readonly where = new Map<string, Where>();
  /** Record name by CR "namespace/name". */
  private readonly byCr = new Map<string, string>();
  /** The newest resourceVersion our own writes got back, per record: older events are our echoes. */
  private readonly writtenRv = new Map<string, bigint>();
  private readonly pending = new Map<string, number>();
  private readonly lastWrite = new Map<string, Promise<void>>();
  private readonly queue = new KeyedQueue();
  private readonly k: Kind<T>;
  private readonly o: Required<CrRegistryStoreOptions>;
  private client: CrClient | undefined;
  /** Set by the registry that follows the store (RegistryFollower). */
  parse: ((input: unknown) => T) | undefined;
  changed: ((change: RegistryChange<T>) => void) | undefined;

  constructor(k: Kind<T>, o: Required<CrRegistryStoreOptions>) {
    this.k = k;
    this.o = o;
  }

  get(name: string): T | undefined {
    this.requireLoaded();
    return this.records.get(name);
  }

  list(): T[] {
    this.requireLoaded();
    return [...this.records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  put(name: string, record: T): void {
    this.requireLoaded();
    const at = this.where.get(name) ?? { namespace: this.o.namespace, name: crName(name) };
    this.remember(name, record, at);
    const cr = this.k.toCr(record, at.namespace);
    cr.metadata.name = at.name;
    this.enqueue(name, at, async (client) => {
      const answer = await client.apply<NsmCr>(this.path(at), cr, this.o.fieldManager);
      if (answer) this.answered(name, answer);
    });
  }

  delete(name: string): boolean {
    this.requireLoaded();
    const at = this.where.get(name);
    if (!this.records.has(name) || !at) return false;
    this.forget(name);
    this.enqueue(name, at, async (client) => void (await client.delete(this.path(at))));
    return true;
  }

  flushed(name: string): Promise<void> {
    return this.lastWrite.get(name) ?? Promise.resolve();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** The CRs of `items` (a list of all namespaces) become the records, without telling anyone: nobody could read before. */
  load(client: CrClient, items: NsmCr[]): void {
    this.client = client;
    for (const cr of items) this.observe("ADDED", cr, false);
  }

  /** A list of all namespaces after the watch fell too far behind: what changed meanwhile is told as changes. */
  resync(items: NsmCr[]): void {
    const listed = new Set(items.map((cr) => keyOf(this.whereOf(cr))));
    for (const cr of items) this.observe("ADDED", cr, true);
    for (const [key, name] of [...this.byCr]) {
      if (!listed.has(key) && !this.pending.get(name)) this.drop(name);
    }
  }

  /** A CR as the API server has it (listed or watched): the record it holds, unless our own writes already say more. */
  observe(type: "ADDED" | "MODIFIED" | "DELETED", cr: NsmCr, tell = true): void {
    const at = this.whereOf(cr);
    const key = keyOf(at);
    const previous = this.byCr.get(key);
    if (type === "DELETED") {
      if (previous !== undefined && !this.pending.get(previous) && !this.ours(previous, cr)) this.drop(previous, tell);
      return;
    }
    let record: T;
    try {
      record = this.parse!(this.k.ofCr(cr));
    } catch (e) {
      this.o.log(`registry: ${this.k.kind} ${key} skipped: ${(e as Error).message}`);
      if (previous !== undefined && !this.pending.get(previous)) this.drop(previous, tell);
      return;
    }
    const name = record.name;
    if (this.pending.get(name) || this.ours(name, cr)) return;
    if (previous !== undefined && previous !== name && !this.pending.get(previous)) this.drop(previous, tell);
    const held = this.where.get(name);
    if (held && keyOf(held) !== key && this.records.has(name)) {
      this.o.log(`registry: ${this.k.noun} "${name}" is in ${this.k.kind} ${keyOf(held)} and ${key}: the registry follows ${key}, the last written`);
      this.byCr.delete(keyOf(held));
    }
    this.adopt(name, record, at, tell);
  }

  private adopt(name: string, record: T, at: Where, tell = true): void {
    const before = this.records.get(name);
    this.remember(name, record, at);
    if (before && canonical(this.k.toCr(before, at.namespace).spec) === canonical(this.k.toCr(record, at.namespace).spec)) return;
    if (tell) this.changed?.({ record, deleted: false });
  }

  private remember(name: string, record: T, at: Where): void {
    const held = this.where.get(name);
    if (held && keyOf(held) !== keyOf(at)) this.byCr.delete(keyOf(held));
    this.records.set(name, record);
    this.where.set(name, at);
    this.byCr.set(keyOf(at), name);
  }

  private forget(name: string): void {
    const at = this.where.get(name);
    if (at) this.byCr.delete(keyOf(at));
    this.where.delete(name);
    this.records.delete(name);
  }

  private drop(name: string, tell = true): void {
    const record = this.records.get(name);
    this.forget(name);
    if (record && tell) this.changed?.({ record, deleted: true });
  }

  /** Whether the CR is no newer than what our own last write of `name` got back. */
  private ours(name: string, cr: NsmCr): boolean {
    const written = this.writtenRv.get(name);
    const rv = numeric(cr.metadata.resourceVersion);
    return written !== undefined && rv !== undefined && rv <= written;
  }

  /** Our write's answer: the CR now. Fields another manager owns may make it hold more than we wrote. */
  private answered(name: string, cr: NsmCr): void {
    const rv = numeric(cr.metadata.resourceVersion);
    if (rv !== undefined && rv > (this.writtenRv.get(name) ?? -1n)) this.writtenRv.set(name, rv);
    if ((this.pending.get(name) ?? 0) > 1) return;
    try {
      const record = this.parse!(this.k.ofCr(cr));
      if (record.name === name) this.adopt(name, record, this.whereOf(cr));
    } catch (e) {
      this.o.log(`registry: ${this.k.kind} ${keyOf(this.whereOf(cr))} as written holds no valid record: ${(e as Error).message}`);
    }
  }

  /** After a failed write: the record as the API server has it, since the cache said what did not happen. */
  private async reread(name: string, at: Where, client: CrClient): Promise<void> {
    const cr = await client.get<NsmCr>(this.path(at));
    if ((this.pending.get(name) ?? 0) > 1) return;
    const held = this.where.get(name);
    const here = held !== undefined && keyOf(held) === keyOf(at);
    if (!cr) {
      if (here) this.drop(name);
      return;
    }
    try {
      const record = this.parse!(this.k.ofCr(cr));
      if (record.name === name) return this.adopt(name, record, at);
      this.o.log(`registry: ${this.k.kind} ${keyOf(at)} holds ${this.k.noun} "${record.name}" now`);
    } catch (e) {
      this.o.log(`registry: ${this.k.kind} ${keyOf(at)} skipped: ${(e as Error).message}`);
    }
    if (here) this.drop(name);
  }

  private enqueue(name: string, at: Where, write: (client: CrClient) => Promise<void>): void {
    const client = this.client!;
    this.pending.set(name, (this.pending.get(name) ?? 0) + 1);
    const done = this.queue
      .run(name, async () => {
        try {
          await write(client);
        } catch (e) {
          const message = (e as Error).message;
          this.o.log(`registry: writing ${this.k.kind} ${keyOf(at)} failed: ${message}; reading it back`);
          await this.reread(name, at, client).catch((err: Error) => this.o.log(`registry: reading ${this.k.kind} ${keyOf(at)} back failed: ${err.message}`));
          throw new NsmError(502, `the registry could not write ${this.k.noun} "${name}" as ${this.k.kind} ${keyOf(at)} to the Kubernetes API server: ${message}`);
        }
      })
      .finally(() => {
        const left = (this.pending.get(name) ?? 1) - 1;
        if (left > 0) this.pending.set(name, left);
        else this.pending.delete(name);
      });
    this.lastWrite.set(name, done);
    done.then(
      () => this.lastWrite.get(name) === done && this.lastWrite.delete(name),
      () => this.lastWrite.get(name) === done && this.lastWrite.delete(name),
    );
  }

  private whereOf(cr: NsmCr): Where {
    return { namespace: cr.metadata.namespace ?? "", name: cr.metadata.name };
  }

  private path(at: Where): string {
    return resourcePath(NSM_API_VERSION, this.k.plural, at.namespace, at.name);
  }

  private requireLoaded(): void {
    if (!this.client) throw notLoaded();
  }
}

const SERVICES: Kind<NetworkService> = { kind: NETWORK_SERVICE_KIND, plural: NETWORK_SERVICES, noun: "network service", toCr: networkServiceCr, ofCr: serviceOfCr };
const ENDPOINTS: Kind<NetworkServiceEndpoint> = {
  kind: NETWORK_SERVICE_ENDPOINT_KIND,
  plural: NETWORK_SERVICE_ENDPOINTS,
  noun: "network service endpoint",
  toCr: networkServiceEndpointCr,
  ofCr: endpointOfCr,
};

export class CrRegistryStore implements RegistryStore {
  readonly services: CrCollection<NetworkService>;
  readonly endpoints: CrCollection<NetworkServiceEndpoint>;
  private readonly o: Required<CrRegistryStoreOptions>;
  private readonly stopping = new AbortController();
  private watches: Array<Promise<void>> = [];

  constructor(opts: CrRegistryStoreOptions) {
    this.o = { fieldManager: "tfmesh-nsm-registry", retryMs: 1000, ...opts };
    this.services = new CrCollection(SERVICES, this.o);
    this.endpoints = new CrCollection(ENDPOINTS, this.o);
  }

  follow(registry: RegistryFollower): void {
    this.services.parse = registry.parseService;
    this.services.changed = registry.serviceChanged;
    this.endpoints.parse = registry.parseEndpoint;
    this.endpoints.changed = registry.endpointChanged;
  }

  /**
   * Lists the CRs of all namespaces into the cache and watches them from there on. `migrateFrom`
   * (the sqlite tables an instance used before): its services become CRs unless one of that name
   * exists, then its services and endpoints are removed from it (forwarders register again).
   */
  async load(client: CrClient, opts: { migrateFrom?: RegistryStore } = {}): Promise<void> {
    if (!this.services.parse || !this.endpoints.parse) throw new Error("CrRegistryStore.load before a registry follows it");
    const lists = await Promise.all([SERVICES, ENDPOINTS].map((k) => client.list<NsmCr>(resourcePath(NSM_API_VERSION, k.plural))));
    this.services.load(client, lists[0]!.items);
    this.endpoints.load(client, lists[1]!.items);
    if (opts.migrateFrom) await this.migrate(opts.migrateFrom);
    this.watches = [
      this.watch(client, this.services, SERVICES, lists[0]!.metadata.resourceVersion),
      this.watch(client, this.endpoints, ENDPOINTS, lists[1]!.metadata.resourceVersion),
    ];
  }

  /** Resolves once every write so far is done (written or failed). */
  async idle(): Promise<void> {
    await Promise.all([this.services.idle(), this.endpoints.idle()]);
  }

  /** Ends the watches after the writes under way. */
  async stop(): Promise<void> {
    await this.idle();
    this.stopping.abort();
    await Promise.all(this.watches);
  }

  private async migrate(from: RegistryStore): Promise<void> {
    const old = from.services.list();
    const moved = old.filter((s) => this.services.get(s.name) === undefined);
    for (const s of moved) this.services.put(s.name, s);
    await Promise.all(moved.map((s) => this.services.flushed(s.name)));
    for (const s of old) from.services.delete(s.name);
    const endpoints = from.endpoints.list();
    for (const e of endpoints) from.endpoints.delete(e.name);
    if (old.length || endpoints.length) {
      this.o.log(`registry: moved ${moved.length} service(s) from the sqlite tables into NetworkService CRs (${old.length - moved.length} had a CR already; ${endpoints.length} endpoint(s) dropped: they register again)`);
    }
  }

  private async watch<T extends { name: string }>(client: CrClient, into: CrCollection<T>, k: Kind<T>, from: string): Promise<void> {
    const signal = this.stopping.signal;
    const path = resourcePath(NSM_API_VERSION, k.plural);
    let resourceVersion: string | undefined = from;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          const list = await client.list<NsmCr>(path);
          into.resync(list.items);
          resourceVersion = list.metadata.resourceVersion;
        }
        for await (const event of client.watch<NsmCr>(path, { resourceVersion, signal })) {
          // The client throws on ERROR events: a 410 as WatchExpired.
          if (event.type === "ERROR") continue;
          resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
          if (event.type === "ADDED" || event.type === "MODIFIED" || event.type === "DELETED") into.observe(event.type, event.object);
        }
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof WatchExpired) {
          this.o.log(`registry: the watch of ${k.plural} expired (${e.message}); listing them again`);
          resourceVersion = undefined;
          continue;
        }
        this.o.log(`registry: watching ${k.plural} failed: ${(e as Error).message}; again in ${this.o.retryMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, this.o.retryMs).unref());
      }
    }
  }
}
