// The NSM registry: NetworkService records (what a client can ask for) and NetworkServiceEndpoint
// records (who provides it; forwarders register under the service "forwarder"). Records are
// validated here, once, and kept in an injected store (sqlite in the lab).
import type { NetworkService, NetworkServiceEndpoint, Payload } from "./api.ts";
import { FORWARDER_SERVICE, forwarderEndpointName } from "./api.ts";
import { NsmError } from "./errors.ts";
import { checkK8sName } from "../lib/validate/names.ts";

/** Named records, kept somewhere durable. */
export interface RecordStore<T> {
  get(name: string): T | undefined;
  put(name: string, record: T): void;
  /** Whether there was a record. */
  delete(name: string): boolean;
  list(): T[];
}

export interface RegistryStore {
  services: RecordStore<NetworkService>;
  endpoints: RecordStore<NetworkServiceEndpoint>;
}

export interface RegistryOptions {
  /** Forwarder-specific checks of a service record (ForwarderRegistry.checkService). */
  checkService?: (service: NetworkService) => string | undefined;
}

const PAYLOADS: readonly Payload[] = ["ETHERNET", "IP"];
const SERVICE_FIELDS = new Set(["name", "payload", "matches", "forwarder", "tungsten", "kernel"]);
const ENDPOINT_FIELDS = new Set(["name", "network_service_names", "network_service_labels", "url", "expiration_time"]);
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
  for (const field of ["url", "expiration_time"] as const) {
    if (input[field] !== undefined && typeof input[field] !== "string") throw bad(what, `${field} must be a string`);
  }
  return {
    name,
    network_service_names: names as string[],
    ...(labels !== undefined ? { network_service_labels: labels as NetworkServiceEndpoint["network_service_labels"] } : {}),
    ...(input.url !== undefined ? { url: input.url as string } : {}),
    ...(input.expiration_time !== undefined ? { expiration_time: input.expiration_time as string } : {}),
  };
}

export class Registry {
  private readonly store: RegistryStore;
  private readonly opts: RegistryOptions;

  constructor(store: RegistryStore, opts: RegistryOptions = {}) {
    this.store = store;
    this.opts = opts;
  }

  /** Validates and upserts a NetworkService record. */
  registerService(input: unknown): NetworkService {
    const service = parseNetworkService(input, this.opts.checkService);
    this.store.services.put(service.name, service);
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
    if (!this.store.services.delete(name)) throw new NsmError(404, `network service "${name}" is not registered`);
  }

  /** Validates and upserts a NetworkServiceEndpoint record. */
  registerEndpoint(input: unknown): NetworkServiceEndpoint {
    const endpoint = parseNetworkServiceEndpoint(input);
    this.store.endpoints.put(endpoint.name, endpoint);
    return endpoint;
  }

  getEndpoint(name: string): NetworkServiceEndpoint | undefined {
    return this.store.endpoints.get(name);
  }

  /** All endpoints, or those providing `networkService`. */
  listEndpoints(networkService?: string): NetworkServiceEndpoint[] {
    const all = this.store.endpoints.list();
    return networkService === undefined ? all : all.filter((e) => e.network_service_names.includes(networkService));
  }

  /** Removes an endpoint; absent is fine. Returns whether there was one. */
  unregisterEndpoint(name: string): boolean {
    return this.store.endpoints.delete(name);
  }

  /** The forwarder endpoint of `type` on `node` (name `<type>@<node>`, labelled type and node), if registered. */
  findForwarder(type: string, node: string): NetworkServiceEndpoint | undefined {
    const e = this.store.endpoints.get(forwarderEndpointName(type, node));
    const labels = e?.network_service_labels?.[FORWARDER_SERVICE]?.labels;
    if (!e || !e.network_service_names.includes(FORWARDER_SERVICE)) return undefined;
    if (labels && ((labels.type !== undefined && labels.type !== type) || (labels.node !== undefined && labels.node !== node))) return undefined;
    return e;
  }
}
