// A client of NSM's gRPC API (networkservicemesh/api v1.x): the generated clients of its services
// (`networkService`, `monitor`, `services`, `endpoints`, `health`) over one connection, and the
// calls a client pod's attachment or a forwarder makes, in api.ts terms. Failures are ConnectErrors
// carrying the gRPC code (ConnectError.from(err).code) and the server's message (rawMessage).
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import type { Connection, ConnectionEvent, MonitorScopeSelector, NetworkService, NetworkServiceEndpoint, NetworkServiceRequest } from "./api.ts";
import { ConnectionSchema, MonitorConnection } from "./gen/connection_pb.ts";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.ts";
import { NetworkService as NetworkServiceService } from "./gen/networkservice_pb.ts";
import { NetworkServiceEndpointRegistry, NetworkServiceRegistry, NetworkServiceSchema } from "./gen/registry_pb.ts";
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
  private readonly connection: GrpcConnection;
  private readonly timeoutMs: number;

  /** `target`: tcp://host:port, unix:///path or http://host:port. */
  constructor(target: string, opts: NsmGrpcClientOptions = {}) {
    this.connection = grpcConnection(target);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const t = this.connection.transport;
    this.networkService = createClient(NetworkServiceService, t);
    this.monitor = createClient(MonitorConnection, t);
    this.services = createClient(NetworkServiceRegistry, t);
    this.endpoints = createClient(NetworkServiceEndpointRegistry, t);
    this.health = createClient(Health, t);
  }

  /** NSM Request: the connection as built (state UP); a repeated request for an id heals it. */
  async request(req: NetworkServiceRequest): Promise<Connection> {
    return connectionFromProto(await this.networkService.request(requestToProto(req), this.unary()));
  }

  /** NSM Close: needs only the id; closing an unknown connection succeeds. */
  async close(conn: Pick<Connection, "id">): Promise<void> {
    await this.networkService.close(create(ConnectionSchema, { id: conn.id }), this.unary());
  }

  /** The connections in scope (INITIAL_STATE_TRANSFER), then each change (UPDATE, DELETE), until `signal` aborts. */
  async *monitorConnections(selector: MonitorScopeSelector = {}, signal?: AbortSignal): AsyncGenerator<ConnectionEvent> {
    for await (const m of this.monitor.monitorConnections(selectorToProto(selector), { signal })) {
      const event = connectionEventFromProto(m);
      if (event) yield event;
    }
  }

  async registerService(service: NetworkService): Promise<NetworkService> {
    return serviceFromProto(await this.services.register(serviceToProto(service), this.unary()));
  }

  /** The services named so (all without a name), and with `watch` every change after. */
  async *findServices(query: { name?: string } = {}, opts: FindOptions = {}): AsyncGenerator<{ service: NetworkService; deleted: boolean }> {
    const q = { networkService: create(NetworkServiceSchema, { name: query.name ?? "" }), watch: opts.watch ?? false };
    for await (const r of this.services.find(q, { signal: opts.signal })) {
      if (r.networkService) yield { service: serviceFromProto(r.networkService), deleted: r.deleted };
    }
  }

  /** NOT_FOUND when it is not registered, FAILED_PRECONDITION while connections use it. */
  async unregisterService(name: string): Promise<void> {
    await this.services.unregister(create(NetworkServiceSchema, { name }), this.unary());
  }

  /** Registers or refreshes an endpoint; answers it with its expiration_time. */
  async registerEndpoint(endpoint: NetworkServiceEndpoint): Promise<NetworkServiceEndpoint> {
    return endpointFromProto(await this.endpoints.register(endpointToProto(endpoint), this.unary()));
  }

  async *findEndpoints(query: EndpointQuery = {}, opts: FindOptions = {}): AsyncGenerator<{ endpoint: NetworkServiceEndpoint; deleted: boolean }> {
    const template = endpointToProto({ name: "", network_service_names: [], ...query });
    for await (const r of this.endpoints.find({ networkServiceEndpoint: template, watch: opts.watch ?? false }, { signal: opts.signal })) {
      if (r.networkServiceEndpoint) yield { endpoint: endpointFromProto(r.networkServiceEndpoint), deleted: r.deleted };
    }
  }

  /** Unregistering an endpoint that is not there succeeds. */
  async unregisterEndpoint(name: string): Promise<void> {
    await this.endpoints.unregister(endpointToProto({ name, network_service_names: [] }), this.unary());
  }

  /** grpc.health.v1 Check of the whole server (""), or of one service by its full name. */
  async check(service = ""): Promise<ServingStatus> {
    const { status } = await this.health.check({ service }, this.unary());
    return STATUS_NAMES.get(status) ?? "UNKNOWN";
  }

  /** Closes the connection (and any stream still open on it). */
  dispose(): void {
    this.connection.close();
  }

  private unary() {
    return { timeoutMs: this.timeoutMs };
  }
}
