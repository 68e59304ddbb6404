// A client of NSM's gRPC API (networkservicemesh/api v1.x): the generated clients of its services
// (`networkService`, `monitor`, `services`, `endpoints`, `health`) over one connection, and the
// calls a client pod's attachment or a forwarder makes, in api.ts terms. Failures are ConnectErrors
// carrying the gRPC code (ConnectError.from(err).code) and the server's message (rawMessage), as
// NsmCallErrors (grpcErrors.ts) whose message names the call and the target. Beside NSM's own
// calls, the registry and connection reads the provider and the lab's tools make (getNetworkService,
// listEndpoints, getConnection, ...), each one call of NSM's API.
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import type { Connection, ConnectionEvent, MonitorScopeSelector, NetworkService, NetworkServiceEndpoint, NetworkServiceRequest } from "./api.ts";
import { ConnectionSchema, MonitorConnection } from "./gen/connection_pb.ts";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.ts";
import { NetworkService as NetworkServiceService } from "./gen/networkservice_pb.ts";
import { NetworkServiceEndpointRegistry, NetworkServiceRegistry, NetworkServiceSchema } from "./gen/registry_pb.ts";
import { describeCallError, isNsmCode, isNsmUnreachable } from "./grpcErrors.ts";
import { acquireX509Source } from "../spiffe/shared.ts";
import type { SvidSource } from "../spiffe/shared.ts";
import { grpcConnection } from "./grpcTransport.ts";
import type { GrpcConnection } from "./grpcTransport.ts";
import {
  connectionEventFromProto,
  connectionFromProto,
  endpointFromProto,
  endpointToProto,
  requestToProto,
  selectorToProto,
  serviceFromProto,
  serviceToProto,
} from "./protoMapping.ts";

export interface NsmGrpcClientOptions {
  /** Deadline of each unary call in ms (streams have none). Default 30000. */
  timeoutMs?: number;
  /** Said after "cannot reach the server" when no server answers (what to start, what to set). */
  unreachableHint?: string;
  /** Further attempts of a unary call no server answered (each of them is safe to repeat), 100 ms apart and doubling. Default 0. */
  retries?: number;
  /**
   * NSM's security: the SPIFFE Workload API (unix:///path, as SPIFFE_ENDPOINT_SOCKET) or an X.509
   * source. Calls are then mTLS with this process's SVID and carry its path token for the server.
   * Without it, cleartext (servers without SPIRE: in-process tests).
   */
  spiffe?: string | SvidSource;
  /** The name of this client's segment in a Request's path (NSM clients put theirs first). Default "tfmesh-client". */
  name?: string;
}

export interface FindOptions {
  /** Go on after the records there now with every change, until `signal` aborts. */
  watch?: boolean;
  signal?: AbortSignal;
}

/** Which endpoints a Find answers: empty fields match any; labels and service names must all be there. */
export type EndpointQuery = Partial<Pick<NetworkServiceEndpoint, "name" | "network_service_names" | "network_service_labels" | "url">>;

export type ServingStatus = keyof typeof HealthCheckResponse_ServingStatus;

const STATUS_NAMES = new Map(Object.entries(HealthCheckResponse_ServingStatus).map(([name, n]) => [n as number, name as ServingStatus]));

export class NsmGrpcClient {
  readonly networkService: Client<typeof NetworkServiceService>;
  readonly monitor: Client<typeof MonitorConnection>;
  readonly services: Client<typeof NetworkServiceRegistry>;
  readonly endpoints: Client<typeof NetworkServiceEndpointRegistry>;
  readonly health: Client<typeof Health>;
  readonly target: string;
  private readonly connection: GrpcConnection;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly unreachableHint: string | undefined;
  private readonly name: string;
  private readonly releaseSource: () => void;

  /** `target`: tcp://host:port, unix:///path or http://host:port. */
  constructor(target: string, opts: NsmGrpcClientOptions = {}) {
    this.target = target;
    this.name = opts.name ?? "tfmesh-client";
    const held = typeof opts.spiffe === "string" ? acquireX509Source(opts.spiffe) : undefined;
    this.releaseSource = held?.release ?? (() => {});
    const source = held ? held.source : (opts.spiffe as SvidSource | undefined);
    this.connection = grpcConnection(target, source ? { source } : {});
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retries = opts.retries ?? 0;
    this.unreachableHint = opts.unreachableHint;
    const t = this.connection.transport;
    this.networkService = createClient(NetworkServiceService, t);
    this.monitor = createClient(MonitorConnection, t);
    this.services = createClient(NetworkServiceRegistry, t);
    this.endpoints = createClient(NetworkServiceEndpointRegistry, t);
    this.health = createClient(Health, t);
  }

  /** NSM Request: the connection as built (state UP); a repeated request for an id heals it. */
  async request(req: NetworkServiceRequest): Promise<Connection> {
    const c = req.connection;
    const withPath = c.path?.path_segments.length ? req : { ...req, connection: { ...c, path: { index: 0, path_segments: [{ name: this.name, id: c.id }] } } };
    return this.call("Request", async (o) => connectionFromProto(await this.networkService.request(requestToProto(withPath), o)));
  }

  /** NSM Close: needs only the id; closing an unknown connection succeeds. */
  async close(conn: Pick<Connection, "id">): Promise<void> {
    await this.call("Close", (o) => this.networkService.close(create(ConnectionSchema, { id: conn.id }), o));
  }

  /** The connections in scope (INITIAL_STATE_TRANSFER), then each change (UPDATE, DELETE), until `signal` aborts. */
  async *monitorConnections(selector: MonitorScopeSelector = {}, signal?: AbortSignal): AsyncGenerator<ConnectionEvent> {
    yield* this.events(selector, { ...(signal ? { signal } : {}) });
  }

  async registerService(service: NetworkService): Promise<NetworkService> {
    return this.call("Register (network service)", async (o) => serviceFromProto(await this.services.register(serviceToProto(service), o)));
  }

  /** The services named so (all without a name), and with `watch` every change after. */
  async *findServices(query: { name?: string } = {}, opts: FindOptions = {}): AsyncGenerator<{ service: NetworkService; deleted: boolean }> {
    const q = { networkService: create(NetworkServiceSchema, { name: query.name ?? "" }), watch: opts.watch ?? false };
    try {
      for await (const r of this.services.find(q, { signal: opts.signal })) {
        if (r.networkService) yield { service: serviceFromProto(r.networkService), deleted: r.deleted };
      }
    } catch (err) {
      throw this.failure(err, "Find (network services)");
    }
  }

  /** NOT_FOUND when it is not registered, FAILED_PRECONDITION while connections use it. */
  async unregisterService(name: string): Promise<void> {
    await this.call("Unregister (network service)", (o) => this.services.unregister(create(NetworkServiceSchema, { name }), o));
  }

  /** Registers or refreshes an endpoint; answers it with its expiration_time. */
  async registerEndpoint(endpoint: NetworkServiceEndpoint): Promise<NetworkServiceEndpoint> {
    return this.call("Register (endpoint)", async (o) => endpointFromProto(await this.endpoints.register(endpointToProto(endpoint), o)));
  }

  async *findEndpoints(query: EndpointQuery = {}, opts: FindOptions = {}): AsyncGenerator<{ endpoint: NetworkServiceEndpoint; deleted: boolean }> {
    const template = endpointToProto({ name: "", network_service_names: [], ...query });
    try {
      for await (const r of this.endpoints.find({ networkServiceEndpoint: template, watch: opts.watch ?? false }, { signal: opts.signal })) {
        if (r.networkServiceEndpoint) yield { endpoint: endpointFromProto(r.networkServiceEndpoint), deleted: r.deleted };
      }
    } catch (err) {
      throw this.failure(err, "Find (endpoints)");
    }
  }

  /** Unregistering an endpoint that is not there succeeds. */
  async unregisterEndpoint(name: string): Promise<void> {
    await this.call("Unregister (endpoint)", (o) => this.endpoints.unregister(endpointToProto({ name, network_service_names: [] }), o));
  }

  /** grpc.health.v1 Check of the whole server (""), or of one service by its full name. */
  async check(service = ""): Promise<ServingStatus> {
    const { status } = await this.call("Health check", (o) => this.health.check({ service }, o));
    return STATUS_NAMES.get(status) ?? "UNKNOWN";
  }

  // --- reads and writes in the registry's and the manager's terms (what the provider and the lab's tools use)

  /** Registers or replaces the record (Register is an upsert). */
  async upsertNetworkService(service: NetworkService): Promise<NetworkService> {
    return this.registerService(service);
  }

  /** The record of that name; undefined when none is registered. */
  async getNetworkService(name: string): Promise<NetworkService | undefined> {
    for await (const { service } of this.findServices({ name })) if (service.name === name) return service;
    return undefined;
  }

  async listNetworkServices(): Promise<NetworkService[]> {
    const all: NetworkService[] = [];
    for await (const { service } of this.findServices()) all.push(service);
    return all;
  }

  /** Unregisters the record; an absent one counts as removed. FAILED_PRECONDITION (connections still use it) is thrown. */
  async deleteNetworkService(name: string): Promise<void> {
    try {
      await this.unregisterService(name);
    } catch (err) {
      if (!isNsmCode(err, Code.NotFound)) throw err;
    }
  }

  /** The registered endpoints, or those of one network service ("forwarder": the forwarders). */
  async listEndpoints(networkService?: string): Promise<NetworkServiceEndpoint[]> {
    const all: NetworkServiceEndpoint[] = [];
    for await (const { endpoint } of this.findEndpoints(networkService ? { network_service_names: [networkService] } : {})) all.push(endpoint);
    return all;
  }

  /**
   * The connection as the manager finds it now (the monitor's INITIAL_STATE_TRANSFER of a scope
   * selecting its path segment id): UP, or DOWN when the data plane it built broke, the reason
   * in a path segment's metrics (problemOf). Undefined when the manager does not know it.
   */
  async getConnection(id: string): Promise<Connection | undefined> {
    return (await this.initialState({ path_segments: [{ name: "", id }] }))[id];
  }

  /** The connections the manager holds, each in the state it finds now. */
  async listConnections(selector: MonitorScopeSelector = {}): Promise<Connection[]> {
    return Object.values(await this.initialState(selector));
  }

  /** Closes the connection (and any stream still open on it). */
  dispose(): void {
    this.connection.close();
    this.releaseSource();
  }

  /** The first event of a monitor, under the unary deadline; the stream is cancelled after it. */
  private async initialState(selector: MonitorScopeSelector): Promise<Record<string, Connection>> {
    for await (const event of this.events(selector, { timeoutMs: this.timeoutMs })) {
      if (event.type === "INITIAL_STATE_TRANSFER") return event.connections;
    }
    throw describeCallError(new Error("the monitor ended before its INITIAL_STATE_TRANSFER"), "MonitorConnections", this.target);
  }

  private async *events(selector: MonitorScopeSelector, opts: { signal?: AbortSignal; timeoutMs?: number }): AsyncGenerator<ConnectionEvent> {
    try {
      for await (const m of this.monitor.monitorConnections(selectorToProto(selector), opts)) {
        const event = connectionEventFromProto(m);
        if (event) yield event;
      }
    } catch (err) {
      throw this.failure(err, "MonitorConnections");
    }
  }

  /** One unary call with the deadline, repeated while no server answers (up to `retries` more times). */
  private async call<T>(what: string, fn: (opts: { timeoutMs: number }) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn({ timeoutMs: this.timeoutMs });
      } catch (err) {
        const failure = this.failure(err, what);
        if (!isNsmUnreachable(failure) || attempt >= this.retries) throw failure;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  private failure(err: unknown, what: string) {
    return describeCallError(err, what, this.target, this.unreachableHint);
  }
}
