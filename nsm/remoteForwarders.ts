// The manager's forwarders as NSM runs them: processes of their own that registered as endpoints
// of service "forwarder" (nsm/forwarderd). `nsmgr/forward` calls the connection's forwarder (the
// endpoint discover selected, named in network_service_endpoint_name) at its registered URL with
// NSM's generated gRPC client, one HTTP/2 connection per forwarder URL, reused. Its check is a
// MonitorConnections call scoped to the connection: the forwarder answers INITIAL_STATE_TRANSFER
// with the connection in the state its elements find (DOWN with the reason in its path segment's
// metrics, `tfmesh.problem`).
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import type { Connection, NetworkService } from "../wire/nsm/api.ts";
import { MonitorConnection } from "../wire/nsm/gen/connection_pb.ts";
import { NetworkService as NetworkServiceService } from "../wire/nsm/gen/networkservice_pb.ts";
import { grpcConnection } from "../wire/nsm/grpcTransport.ts";
import type { GrpcConnection } from "../wire/nsm/grpcTransport.ts";
import { connectionEventFromProto, connectionFromProto, connectionToProto, problemOf, requestToProto, selectorToProto } from "../wire/nsm/protoMapping.ts";
import type { Element } from "./chain.ts";
import { NsmError } from "./errors.ts";
import type { Forwarding } from "./forwarder.ts";
import { fromConnectError } from "./grpc/status.ts";
import type { Registry } from "./registry.ts";
import type { SvidSource } from "../wire/spiffe/shared.ts";

export interface RemoteForwardersOptions {
  registry: Registry;
  /** The forwarder types this manager knows, each with its check of a service record. */
  serviceChecks: Record<string, (service: NetworkService) => string | undefined>;
  /** Deadline of a Request or Close in ms. Default 60000. */
  timeoutMs?: number;
  /** The manager's SVIDs: mTLS and path tokens to the forwarders. */
  source?: SvidSource;
}

interface ForwarderClient {
  connection: GrpcConnection;
  networkService: Client<typeof NetworkServiceService>;
  monitor: Client<typeof MonitorConnection>;
}

export class RemoteForwarders implements Forwarding {
  private readonly opts: RemoteForwardersOptions;
  private readonly clients = new Map<string, ForwarderClient>();

  constructor(opts: RemoteForwardersOptions) {
    this.opts = opts;
  }

  types(): string[] {
    return Object.keys(this.opts.serviceChecks);
  }

  requireType(type: string): void {
    if (!this.opts.serviceChecks[type]) throw new NsmError(400, `unknown forwarder "${type}"; known forwarders: ${this.types().join(", ") || "none"}`);
  }

  checkService(service: NetworkService): string | undefined {
    const check = this.opts.serviceChecks[service.forwarder];
    if (!check) return `forwarder: unknown forwarder "${service.forwarder}"; known forwarders: ${this.types().join(", ") || "none"}`;
    return check(service);
  }

  forward(): Element<Connection> {
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    return {
      name: "nsmgr/forward",
      request: async (c, next) => {
        const { name, client } = this.forwarderOf(c);
        try {
          const answer = await client.networkService.request(requestToProto({ connection: c }), { timeoutMs });
          return next.request(connectionFromProto(answer));
        } catch (err) {
          throw fromConnectError(err, `forwarder ${name}`);
        }
      },
      close: async (c, next) => {
        const { name, client } = this.forwarderOf(c);
        try {
          await client.networkService.close(connectionToProto(c), { timeoutMs });
        } catch (err) {
          throw fromConnectError(err, `forwarder ${name}`);
        }
        await next.close(c);
      },
      check: async (c, next) => (await this.checkRemote(c)) ?? next.check(c),
    };
  }

  /** Drops every forwarder connection. */
  close(): void {
    for (const client of this.clients.values()) client.connection.close();
    this.clients.clear();
  }

  /** The connection's forwarder: its registered endpoint, and a client of its URL. */
  private forwarderOf(c: Connection): { name: string; client: ForwarderClient } {
    const name = c.network_service_endpoint_name ?? "";
    const endpoint = this.opts.registry.getEndpoint(name);
    if (!endpoint) {
      const expired = this.opts.registry.expiredAt(name);
      throw new NsmError(502, `forwarder "${name}" of connection ${c.id} is not registered${expired ? ` (its registration expired at ${expired})` : ""}; is it running?`);
    }
    if (!endpoint.url) throw new NsmError(502, `forwarder "${name}" registered no url`);
    return { name, client: this.clientOf(endpoint.url) };
  }

  private clientOf(url: string): ForwarderClient {
    let client = this.clients.get(url);
    if (!client) {
      const connection = grpcConnection(url, this.opts.source ? { source: this.opts.source } : {});
      client = { connection, networkService: createClient(NetworkServiceService, connection.transport), monitor: createClient(MonitorConnection, connection.transport) };
      this.clients.set(url, client);
    }
    return client;
  }

  /** What the connection's forwarder finds wrong with it, as its monitor reports it. */
  private async checkRemote(c: Connection): Promise<string | undefined> {
    let forwarder: { name: string; client: ForwarderClient };
    try {
      forwarder = this.forwarderOf(c);
    } catch (err) {
      return (err as Error).message;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.opts.timeoutMs ?? 60_000);
    try {
      const selector = selectorToProto({ path_segments: [{ name: forwarder.name, id: c.id }] });
      for await (const m of forwarder.client.monitor.monitorConnections(selector, { signal: abort.signal })) {
        const event = connectionEventFromProto(m);
        if (event?.type !== "INITIAL_STATE_TRANSFER") continue;
        const seen = event.connections[c.id];
        if (!seen) return `forwarder ${forwarder.name} has no connection ${c.id}`;
        if (seen.state === "UP") return undefined;
        return problemOf(seen) ?? `forwarder ${forwarder.name} reports the connection ${seen.state ?? "DOWN"}`;
      }
      return `forwarder ${forwarder.name} ended its monitor without the connections' state`;
    } catch (err) {
      return fromConnectError(err, `forwarder ${forwarder.name}`).message;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }
}
