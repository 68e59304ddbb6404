// The NSM registry: NetworkService records (what a client can ask for) and NetworkServiceEndpoint
// records (who provides it; forwarders register under the service "forwarder"). Records are
// validated here, once, and kept in an injected store (in the lab: sqlite, or with Kubernetes NSM's CRs).
// As in NSM v1, an endpoint registration lasts until its expiration_time (default: one lifetime,
// one minute, from registering); its owner refreshes it by registering again. An expired endpoint
// is no longer returned and is removed when next looked at, or when it is due while someone
// watches the endpoints.
import type { NetworkService, NetworkServiceEndpoint, Payload } from "../wire/nsm/api.ts";
import { FORWARDER_SERVICE, forwarderEndpointName } from "../wire/nsm/api.ts";
import { NsmError } from "./errors.ts";
import { Listeners } from "./listeners.ts";
import { checkK8sName } from "../lib/validate/names.ts";

/** Named records, kept somewhere durable. */
export interface RecordStore<T> {
  get(name: string): T | undefined;
  put(name: string, record: T): void;
  /** Whether there was a record. */
  delete(name: string): boolean;
  list(): T[];
  /** A store that writes behind (the lab's Kubernetes CRs): resolves once what was put or deleted
   *  for `name` so far is durable, rejects when that write failed. Without it, put and delete are. */
  flushed?(name: string): Promise<void>;
}

export interface RegistryStore {
  services: RecordStore<NetworkService>;
  endpoints: RecordStore<NetworkServiceEndpoint>;
  /** A store that others write too (the lab's CRs, which kubectl can change) is handed this once,
   *  by the registry it serves: it validates their records with it and tells the registry's watchers. */
  follow?(registry: RegistryFollower): void;
}

/** What the registry offers a store others write to. */
export interface RegistryFollower {
  /** The record as the registry would take it; throws NsmError 400 naming the problem. */
  parseService(input: unknown): NetworkService;
  parseEndpoint(input: unknown): NetworkServiceEndpoint;
  /** Someone else registered or removed a record, which the store already holds (or no longer does). */
  serviceChanged(change: RegistryChange<NetworkService>): void;
  endpointChanged(change: RegistryChange<NetworkServiceEndpoint>): void;
}

export interface RegistryOptions {
  /** Forwarder-specific checks of a service record (ForwarderRegistry.checkService). */
  checkService?: (service: NetworkService) => string | undefined;
  /** How long a registration without expiration_time lasts, in ms. Default one minute, as NSM. */
  endpointLifetimeMs?: number;
  /** The current time in ms since the epoch; tests pass their own. Default Date.now. */
  now?: () => number;
}

/** A record registered (again), or one gone (`deleted`: unregistered, or expired). */
export interface RegistryChange<T> {
  record: T;
  deleted: boolean;
}

/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** NSM's default endpoint registration lifetime. */
export const DEFAULT_ENDPOINT_LIFETIME_MS = 60_000;

const PAYLOADS: readonly Payload[] = ["ETHERNET", "IP"];
const SERVICE_FIELDS = new Set(["name", "payload", "matches", "forwarder", "tungsten", "kernel", "path_ids"]);
const ENDPOINT_FIELDS = new Set(["name", "network_service_names", "network_service_labels", "url", "expiration_time", "path_ids"]);
const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9@._-]{0,252}$/;

const bad = (what: string, reason: string) => new NsmError(400, `invalid ${what}: ${reason}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function unknownFields(o: Record<string, unknown>, known: Set<string>): string | undefined {
  const extra = Object.keys(o).filter((k) => !known.has(k));
  return extra.length ? `unknown field(s) ${extra.map((k) => `"${k}"`).join(", ")}` : undefined;
}

/** Parses a NetworkService record; throws NsmError 400 naming the first problem. */
export function parseNetworkService(input: unknown, check?: RegistryOptions["checkService"]): NetworkService {
  if (!isObject(input)) throw bad("network service", "expected a JSON object");
  const name = input.name;
  const nameProblem = checkK8sName(name);
  if (nameProblem) throw bad("network service", `name: ${nameProblem}`);
  const what = `network service "${name as string}"`;
  const extra = unknownFields(input, SERVICE_FIELDS);
  if (extra) throw bad(what, extra);
  const payload = input.payload ?? "ETHERNET";
  if (!PAYLOADS.includes(payload as Payload)) throw bad(what, `payload must be "ETHERNET" or "IP", got ${JSON.stringify(payload)}`);
  if (typeof input.forwarder !== "string" || input.forwarder === "") {
    throw bad(what, `forwarder must name the forwarder that builds its interfaces (e.g. "tungsten" or "kernel")`);
  }
  if (input.matches !== undefined && !Array.isArray(input.matches)) throw bad(what, "matches must be a list");
  for (const section of ["tungsten", "kernel"] as const) {
    if (input[section] !== undefined && !isObject(input[section])) throw bad(what, `${section} must be an object`);
  }
  const service: NetworkService = {
    name: name as string,
    payload: payload as Payload,
    forwarder: input.forwarder,
    ...(input.matches !== undefined ? { matches: input.matches as unknown[] } : {}),
    ...(input.tungsten !== undefined ? { tungsten: input.tungsten as NetworkService["tungsten"] } : {}),
    ...(input.kernel !== undefined ? { kernel: input.kernel as NetworkService["kernel"] } : {}),
    ...pathIds(what, input.path_ids),
  };
  const problem = check?.(service);
  if (problem) throw bad(what, problem);
  return service;
}

/** Parses a NetworkServiceEndpoint record; throws NsmError 400 naming the first problem. */
export function parseNetworkServiceEndpoint(input: unknown): NetworkServiceEndpoint {
  if (!isObject(input)) throw bad("network service endpoint", "expected a JSON object");
  const name = input.name;
  if (typeof name !== "string" || !ENDPOINT_NAME.test(name)) {
    throw bad("network service endpoint", `name must be 1..253 characters from [A-Za-z0-9@._-], got ${JSON.stringify(name)}`);
  }
  const what = `network service endpoint "${name}"`;
  const extra = unknownFields(input, ENDPOINT_FIELDS);
  if (extra) throw bad(what, extra);
  const names = input.network_service_names;
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== "string" || n === "")) {
    throw bad(what, "network_service_names must be a non-empty list of service names");
  }
  const labels = input.network_service_labels;
  if (labels !== undefined) {
    if (!isObject(labels)) throw bad(what, "network_service_labels must map a service name to {labels: {...}}");
    for (const [svc, entry] of Object.entries(labels)) {
      if (!isObject(entry) || !isObject(entry.labels) || Object.values(entry.labels).some((v) => typeof v !== "string")) {
        throw bad(what, `network_service_labels.${svc} must be {labels: {key: "value", ...}}`);
      }
    }
  }
  if (input.url !== undefined && typeof input.url !== "string") throw bad(what, "url must be a string");
  const expires = input.expiration_time === undefined ? undefined : parseTimestamp(input.expiration_time);
  if (expires === undefined && input.expiration_time !== undefined) {
    throw bad(what, `expiration_time must be an RFC 3339 time (e.g. "2024-05-01T12:00:00Z") or {seconds, nanos}, got ${JSON.stringify(input.expiration_time)}`);
  }
  return {
    name,
    network_service_names: names as string[],
    ...(labels !== undefined ? { network_service_labels: labels as NetworkServiceEndpoint["network_service_labels"] } : {}),
    ...(input.url !== undefined ? { url: input.url as string } : {}),
    ...(expires !== undefined ? { expiration_time: new Date(expires).toISOString() } : {}),
    ...pathIds(what, input.path_ids),
  };
}

function pathIds(what: string, v: unknown): { path_ids?: string[] } {
  if (v === undefined) return {};
  if (!Array.isArray(v) || v.some((id) => typeof id !== "string" || id === "")) throw bad(what, "path_ids must be a list of SPIFFE IDs");
  return v.length ? { path_ids: v as string[] } : {};
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** A google.protobuf.Timestamp in ms since the epoch: the RFC 3339 string of its JSON mapping, or the
 *  {seconds, nanos} object Go's encoding/json writes. Undefined when it is neither. */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === "string") {
    const m = RFC3339.exec(v);
    if (!m) return undefined;
    const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    // Date.parse rolls "02-30" over into March; a timestamp naming no real time is refused instead.
    if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59) return undefined;
    const ms = Date.parse(v.toUpperCase().replace(/(\.\d{3})\d+/, "$1"));
    return Number.isFinite(ms) ? ms : undefined;
  }
  if (isObject(v) && Object.keys(v).every((k) => k === "seconds" || k === "nanos")) {
    const seconds = Number(v.seconds ?? 0);
    const nanos = Number(v.nanos ?? 0);
    if (!Number.isInteger(seconds) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
    const ms = seconds * 1000 + Math.floor(nanos / 1e6);
    return Number.isFinite(new Date(ms).getTime()) ? ms : undefined;
  }
  return undefined;
}

export class Registry {
  private readonly store: RegistryStore;
  private readonly opts: RegistryOptions;
  private readonly now: () => number;
  readonly endpointLifetimeMs: number;
  /** Endpoints removed because their registration expired, with the time it did: lets a refusal say why. */
  private readonly lapsed = new Map<string, string>();
  private readonly serviceChanges = new Listeners<RegistryChange<NetworkService>>();
  private readonly endpointChanges = new Listeners<RegistryChange<NetworkServiceEndpoint>>();
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(store: RegistryStore, opts: RegistryOptions = {}) {
    this.store = store;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.endpointLifetimeMs = opts.endpointLifetimeMs ?? DEFAULT_ENDPOINT_LIFETIME_MS;
    if (!(this.endpointLifetimeMs > 0)) throw new Error(`endpointLifetimeMs must be positive, got ${this.endpointLifetimeMs}`);
    store.follow?.({
      parseService: (input) => parseNetworkService(input, opts.checkService),
      parseEndpoint: parseNetworkServiceEndpoint,
      serviceChanged: (change) => this.serviceChanges.emit(change),
      endpointChanged: (change) => {
        this.lapsed.delete(change.record.name);
        this.endpointChanges.emit(change);
        this.scheduleExpiry();
      },
    });
  }

  /** Resolves once the service's last registration or removal is durable in the store (a store that writes behind). */
  async serviceWritten(name: string): Promise<void> {
    await this.store.services.flushed?.(name);
  }

  /** As serviceWritten, for an endpoint. */
  async endpointWritten(name: string): Promise<void> {
    await this.store.endpoints.flushed?.(name);
  }

  /** Validates and upserts a NetworkService record. */
  registerService(input: unknown): NetworkService {
    const service = parseNetworkService(input, this.opts.checkService);
    this.store.services.put(service.name, service);
    this.serviceChanges.emit({ record: service, deleted: false });
    return service;
  }

  getService(name: string): NetworkService | undefined {
    return this.store.services.get(name);
  }

  /** The record, or a 404 naming the service. */
  requireService(name: string): NetworkService {
    const s = this.store.services.get(name);
    if (!s) throw new NsmError(404, `network service "${name}" is not registered`);
    return s;
  }

  listServices(): NetworkService[] {
    return this.store.services.list();
  }

  /** Removes a service; 404 when absent. The caller refuses (409) while connections use it. */
  unregisterService(name: string): void {
    const service = this.store.services.get(name);
    if (!service) throw new NsmError(404, `network service "${name}" is not registered`);
    this.store.services.delete(name);
    this.serviceChanges.emit({ record: service, deleted: true });
  }

  /** Validates and upserts a NetworkServiceEndpoint record (a refresh is the same call); one without
   *  expiration_time lasts one lifetime from now. Answers the record as stored. */
  registerEndpoint(input: unknown): NetworkServiceEndpoint {
    const parsed = parseNetworkServiceEndpoint(input);
    const endpoint = parsed.expiration_time ? parsed : { ...parsed, expiration_time: new Date(this.now() + this.endpointLifetimeMs).toISOString() };
    this.store.endpoints.put(endpoint.name, endpoint);
    this.lapsed.delete(endpoint.name);
    this.endpointChanges.emit({ record: endpoint, deleted: false });
    this.scheduleExpiry();
    return endpoint;
  }

  /** The endpoint, unless absent or expired. */
  getEndpoint(name: string): NetworkServiceEndpoint | undefined {
    const e = this.store.endpoints.get(name);
    return e && this.live(e) ? e : undefined;
  }

  /** All live endpoints, or those providing `networkService`. */
  listEndpoints(networkService?: string): NetworkServiceEndpoint[] {
    const all = this.store.endpoints.list().filter((e) => this.live(e));
    return networkService === undefined ? all : all.filter((e) => e.network_service_names.includes(networkService));
  }

  /** Removes an endpoint; absent is fine. Returns whether there was one. */
  unregisterEndpoint(name: string): boolean {
    this.lapsed.delete(name);
    const endpoint = this.store.endpoints.get(name);
    const there = this.store.endpoints.delete(name);
    if (there && endpoint) this.endpointChanges.emit({ record: endpoint, deleted: true });
    this.scheduleExpiry();
    return there;
  }

  /** Tells `listener` of every service registered, re-registered or unregistered, until the function returned is called. */
  watchServices(listener: (change: RegistryChange<NetworkService>) => void): () => void {
    return this.serviceChanges.add(listener);
  }

  /** Tells `listener` of every endpoint registered, refreshed, unregistered or expired (when it is due), until the function returned is called. */
  watchEndpoints(listener: (change: RegistryChange<NetworkServiceEndpoint>) => void): () => void {
    const remove = this.endpointChanges.add(listener);
    this.scheduleExpiry();
    return () => {
      remove();
      this.scheduleExpiry();
    };
  }

  /** When the registration of endpoint `name` expired, if it was removed for that and not registered since. */
  expiredAt(name: string): string | undefined {
    this.getEndpoint(name);
    return this.lapsed.get(name);
  }

  /**
   * The forwarder of `type` on `node`, as NSM selects one: a live endpoint of service "forwarder"
   * whose labels hold the selection's metadata labels (here `type`, and `node`, since one manager
   * serves every node). The one named "<type>@<node>" comes first (a record without labels counts
   * by that name), then the others by name.
   */
  findForwarder(type: string, node: string): NetworkServiceEndpoint | undefined {
    const labelsOf = (e: NetworkServiceEndpoint) => e.network_service_labels?.[FORWARDER_SERVICE]?.labels;
    const named = this.getEndpoint(forwarderEndpointName(type, node));
    if (named && named.network_service_names.includes(FORWARDER_SERVICE)) {
      const labels = labelsOf(named);
      if (!labels || ((labels.type === undefined || labels.type === type) && (labels.node === undefined || labels.node === node))) return named;
    }
    return this.listEndpoints(FORWARDER_SERVICE)
      .filter((e) => labelsOf(e)?.type === type && labelsOf(e)?.node === node)
      .sort((a, b) => a.name.localeCompare(b.name))[0];
  }

  /** Whether `e` has not expired; removes it when it has. A record stored without expiration_time
   *  (written before registrations expired) counts as live. */
  private live(e: NetworkServiceEndpoint): boolean {
    const expires = e.expiration_time === undefined ? undefined : parseTimestamp(e.expiration_time);
    if (expires === undefined || expires > this.now()) return true;
    this.store.endpoints.delete(e.name);
    this.lapsed.set(e.name, e.expiration_time!);
    this.endpointChanges.emit({ record: e, deleted: true });
    return false;
  }

  /** While someone watches the endpoints, a timer removes each registration when it expires, so the watchers hear of it then. */
  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.endpointChanges.size === 0) return;
    let stored: NetworkServiceEndpoint[];
    try {
      stored = this.store.endpoints.list();
    } catch (e) {
      // A store that is not loaded yet (503: the lab's CRs before Kubernetes runs) has nothing due; the next registration sets the timer.
      if (e instanceof NsmError && e.status === 503) return;
      throw e;
    }
    const due = stored.flatMap((e) => parseTimestamp(e.expiration_time) ?? []);
    if (due.length === 0) return;
    const delay = Math.min(Math.max(0, Math.min(...due) - this.now()), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      this.listEndpoints();
      this.scheduleExpiry();
    }, delay);
    this.expiryTimer.unref();
  }
}
