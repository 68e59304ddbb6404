// NSM client: the registry (network services, endpoints) and the manager (Request / Close) over
// the lab's NSM HTTP API (docs/contracts.md, "NSM HTTP API").
import { HttpClient, isStatus, orUndefinedOn404 } from "../../lib/http/client.ts";
import type { ClientOptions } from "../openstack/index.ts";
import type { Connection, NetworkService, NetworkServiceEndpoint, NetworkServiceRequest } from "./api.ts";

export type { Connection, NetworkService, NetworkServiceEndpoint, NetworkServiceRequest } from "./api.ts";

export class NsmClient {
  readonly http: HttpClient;

  constructor(baseUrl: string, opts: ClientOptions = {}) {
    this.http = new HttpClient({ baseUrl, ...opts });
  }

  /** Creates or replaces the registry record (the API upserts). */
  async upsertNetworkService(ns: NetworkService): Promise<NetworkService> {
    return (await this.http.post<NetworkService>("/registry/network-services", ns, { retryPost: true })).body;
  }

  async getNetworkService(name: string): Promise<NetworkService | undefined> {
    return (await orUndefinedOn404(this.http.get<NetworkService>(`/registry/network-services/${encodeURIComponent(name)}`)))?.body;
  }

  async listNetworkServices(): Promise<NetworkService[]> {
    return (await this.http.get<NetworkService[]>("/registry/network-services")).body;
  }

  /** Deletes the record; an absent record counts as deleted. 409 (connections still use it) is thrown. */
  async deleteNetworkService(name: string): Promise<void> {
    try {
      await this.http.delete(`/registry/network-services/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
  }

  async listEndpoints(networkService?: string): Promise<NetworkServiceEndpoint[]> {
    return (await this.http.get<NetworkServiceEndpoint[]>("/registry/network-service-endpoints", { query: { network_service: networkService } })).body;
  }

  /** NSM Request: idempotent per connection id (a repeated request heals the connection). */
  async request(req: NetworkServiceRequest): Promise<Connection> {
    // Safe to resend on a dropped connection because the manager treats a known id as a heal.
    return (await this.http.post<Connection>("/nsmgr/request", req, { retryPost: true })).body;
  }

  /** NSM Close: needs only the id; idempotent, closing an unknown connection succeeds. */
  async close(conn: Pick<Connection, "id">): Promise<void> {
    await this.http.post("/nsmgr/close", { id: conn.id }, { retryPost: true });
  }

  /** The connection with the state its forwarder finds now: UP, or DOWN when the data plane it built broke. */
  async getConnection(id: string): Promise<Connection | undefined> {
    return (await orUndefinedOn404(this.http.get<Connection>(`/nsmgr/connections/${encodeURIComponent(id)}`)))?.body;
  }

  /** The stored connections, as they were answered (no data-plane check: see getConnection). */
  async listConnections(): Promise<Connection[]> {
    return (await this.http.get<Connection[]>("/nsmgr/connections")).body;
  }
}
