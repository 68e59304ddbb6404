// The NSM manager (NSMgr) of the nodes: takes a client's Request, checks the network service exists,
// picks the forwarder the service names among the forwarders registered for the client's node,
// and passes the connection on to that forwarder's elements, which end the chain; Close undoes it.
// One chain over one shape, the Connection:
//
//   begin            one at a time per connection id; a repeated Request heals; remembers the answer
//   nsmgr/discover   the service must be registered (404) and "<forwarder>@<node>" registered,
//                    unexpired and of a known type (400); writes payload, endpoint name and the
//                    service's section into the connection; a heal whose selection changed is
//                    a reselect: the old connection is closed first and built anew
//   path             the manager's segment
//   nsmgr/forward    the forwarder: its elements in this process (ForwarderRegistry), or the
//                    forwarder process over gRPC (RemoteForwarders)
import type { Connection, NetworkService, NetworkServiceEndpoint, NetworkServiceRequest } from "../wire/nsm/api.ts";
import { forwarderEndpointName, NODE_LABEL, serviceBinding } from "../wire/nsm/api.ts";
import { begin, chain } from "./chain.ts";
import type { Element, Memory, Next } from "./chain.ts";
import { assertConnectionId, isHeal, nodeOf, withContext } from "./connection.ts";
import { NsmError } from "./errors.ts";
import { updatePath } from "./forwarder.ts";
import type { Forwarding } from "./forwarder.ts";
import { Listeners } from "./listeners.ts";
import { kernelMechanism } from "./mechanism.ts";
import type { Registry } from "./registry.ts";

export { serviceBinding } from "../wire/nsm/api.ts";

/** Persisted connections, as the chain answered them (sqlite in the lab). */
export interface ConnectionStore extends Memory<Connection> {
  get(id: string): Connection | undefined;
  list(): Connection[];
}

export interface ManagerOptions {
  registry: Registry;
  connections: ConnectionStore;
  /** The forwarders' elements in this process (ForwarderRegistry) or forwarder processes over gRPC (RemoteForwarders). */
  forwarders: Forwarding;
  /** Names this manager in connection paths. Default "nsmgr". */
  name?: string;
}

/** A connection as its forwarder finds it now: state DOWN and the problem when its data plane broke. */
export interface CheckedConnection {
  connection: Connection;
  problem?: string;
}

/** A connection a request established or healed (UPDATE), or one a close removed (DELETE), as NSM's monitor reports it. */
export interface ConnectionChange {
  type: "UPDATE" | "DELETE";
  connection: Connection;
}


export class Manager {
  private readonly opts: ManagerOptions;
  private readonly managerName: string;
  private readonly pipeline: Next<Connection>;
  private readonly changes = new Listeners<ConnectionChange>();

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    const managerName = (this.managerName = opts.name ?? "nsmgr");
    this.pipeline = chain<Connection>([
      begin<Connection>({ id: (c) => c.id, memory: this.observed(opts.connections), heal: healRequest }),
      discover(opts.registry, opts.forwarders, (id) => opts.connections.get(id)),
      updatePath((c) => `${managerName}@${nodeOf(c)}`),
      opts.forwarders.forward(),
    ]);
  }

  /** Request(NetworkServiceRequest) -> Connection (state UP, context filled). */
  async request(req: NetworkServiceRequest): Promise<Connection> {
    return this.pipeline.request(validRequest(req));
  }

  /** Close(Connection): needs only the id; closing an unknown connection is fine. */
  async close(conn: Pick<Connection, "id">): Promise<void> {
    if (!conn || typeof conn.id !== "string" || conn.id === "") throw new NsmError(400, "close needs the connection id");
    await this.pipeline.close({ id: conn.id, network_service: "" });
  }

  /** Tells `listener` of every change to the stored connections until the function returned is called. */
  watch(listener: (change: ConnectionChange) => void): () => void {
    return this.changes.add(listener);
  }

  /** Removes a network service no connection uses: 404 when it is not registered, 409 naming the connections that use it. */
  unregisterService(name: string): void {
    this.opts.registry.requireService(name);
    const users = this.find((c) => c.network_service === name).map((c) => c.id);
    if (users.length) throw new NsmError(409, `network service "${name}" is used by connection(s) ${users.join(", ")}; close them first`);
    this.opts.registry.unregisterService(name);
  }

  /** The connection as it was answered and stored. */
  get(id: string): Connection | undefined {
    return this.opts.connections.get(id);
  }

  /**
   * The connection with the state its forwarder finds now (as NSM's monitor reports it): UP, or
   * DOWN with the problem when the data plane it built broke (an interface gone or changed, a
   * port the vRouter no longer carries). Undefined for an unknown connection.
   */
  async check(id: string): Promise<CheckedConnection | undefined> {
    const known = this.get(id);
    if (!known) return undefined;
    const problem = await this.pipeline.check(known);
    const connection = this.get(id);
    if (!connection) return undefined;
    return problem === undefined ? { connection: { ...connection, state: "UP" } } : { connection: { ...connection, state: "DOWN" }, problem };
  }

  list(): Connection[] {
    return this.opts.connections.list();
  }

  /** The stored connections that match. */
  find(match: (c: Connection) => boolean): Connection[] {
    return this.opts.connections.list().filter(match);
  }

  /** Closes every connection that matches; tries all, then throws the first failure. */
  async closeWhere(match: (c: Connection) => boolean): Promise<void> {
    const results = await Promise.allSettled(this.find(match).map((c) => this.close(c)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Re-requests every stored connection (a heal rebuilds missing pieces), a few at a time. Reports failures per id. */
  async heal(concurrency = 8): Promise<Array<{ connection: Connection; error?: unknown }>> {
    const todo = this.opts.connections.list();
    const results: Array<{ connection: Connection; error?: unknown }> = [];
    const worker = async () => {
      for (let c = todo.shift(); c; c = todo.shift()) {
        try {
          await this.healOwn(c);
          results.push({ connection: c });
        } catch (error) {
          results.push({ connection: c, error });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
  }

  /**
   * A heal the manager starts itself: the client's tokens in the stored path may have expired, so
   * the path goes on from the manager's own segment (this hop is the caller, with a fresh token),
   * and the stored answer gets the client's segments back (its first token names the owner).
   */
  private async healOwn(c: Connection): Promise<void> {
    const segments = c.path?.path_segments ?? [];
    const own = segments.findIndex((s) => s.name === `${this.managerName}@${nodeOf(c)}`);
    if (own <= 0) {
      await this.request({ connection: c });
      return;
    }
    await this.request({ connection: { ...c, path: { index: 0, path_segments: segments.slice(own) } } });
    const answered = this.get(c.id);
    if (answered?.path) await this.opts.connections.set(c.id, { ...answered, path: { index: 0, path_segments: [...segments.slice(0, own), ...answered.path.path_segments] } });
  }

  /** The store as begin uses it, telling the watchers what it keeps and removes. */
  private observed(store: ConnectionStore): Memory<Connection> {
    return {
      get: (id) => store.get(id),
      set: async (id, connection) => {
        await store.set(id, connection);
        this.changes.emit({ type: "UPDATE", connection });
      },
      delete: async (id) => {
        const connection = store.get(id);
        await store.delete(id);
        if (connection) this.changes.emit({ type: "DELETE", connection });
      },
    };
  }
}

/** The client's connection as the chain takes it: what the client may ask for, nothing the chain fills in. */
function validRequest(req: NetworkServiceRequest): Connection {
  const c = req?.connection;
  if (!c || typeof c !== "object") throw new NsmError(400, "the request needs a connection");
  assertConnectionId(c.id);
  if (typeof c.network_service !== "string" || c.network_service === "") throw new NsmError(400, `connection ${c.id}: network_service is required`);
  const labels = c.labels ?? {};
  if (typeof labels !== "object" || Object.values(labels).some((v) => typeof v !== "string")) {
    throw new NsmError(400, `connection ${c.id}: labels must map names to strings`);
  }
  if (!labels[NODE_LABEL]) throw new NsmError(400, `connection ${c.id}: label ${NODE_LABEL} (the client's node) is required`);
  return {
    id: c.id,
    network_service: c.network_service,
    labels: { ...labels },
    mechanism: kernelMechanism(req.mechanism_preferences, c.mechanism, labels),
    ...(c.path?.path_segments?.length ? { path: c.path } : {}),
  };
}

/** Only what the client asks for: a connection without anything the chain filled in. */
function asRequested({ id, network_service, labels, mechanism }: Connection): Connection {
  return { id, network_service, ...(labels ? { labels } : {}), ...(mechanism ? { mechanism } : {}) };
}

/** A heal keeps what the first request settled (e.g. the interface name the forwarder chose) unless the client changes it. */
function healRequest(established: Connection, incoming: Connection): Connection {
  const params = { ...established.mechanism?.parameters };
  for (const [k, v] of Object.entries(incoming.mechanism?.parameters ?? {})) if (v !== "") params[k] = v;
  return { ...established, ...incoming, mechanism: { ...(incoming.mechanism ?? established.mechanism!), parameters: params } };
}

/** The connection bound to `service` through `endpoint`. */
function bound(c: Connection, service: NetworkService, endpoint: NetworkServiceEndpoint): Connection {
  return withContext({ ...c, payload: service.payload, network_service_endpoint_name: endpoint.name }, { extra_context: serviceBinding(service) });
}

/** Whether an established connection was built for this service through this endpoint. */
function builtFor(c: Connection, service: NetworkService, endpoint: NetworkServiceEndpoint): boolean {
  if (c.network_service !== service.name || c.network_service_endpoint_name !== endpoint.name || c.payload !== service.payload) return false;
  return Object.entries(serviceBinding(service)).every(([k, v]) => c.context?.extra_context?.[k] === v);
}

function discover(registry: Registry, forwarders: Forwarding, established: (id: string) => Connection | undefined): Element<Connection> {
  return {
    name: "nsmgr/discover",
    request: async (c, next) => {
      const service = registry.requireService(c.network_service);
      const endpoint = selectForwarder(registry, forwarders, service, nodeOf(c));
      const old = isHeal(c) ? established(c.id) : undefined;
      if (old && !builtFor(old, service, endpoint)) {
        // NSM reselects when what a connection was built for changed: close the old one, build anew.
        await next.close(old);
        return next.request(bound(asRequested(c), service, endpoint));
      }
      return next.request(bound(c, service, endpoint));
    },
    close: (c, next) => next.close(c),
  };
}

/** The endpoint "<forwarder>@<node>" of the service's forwarder on the client's node, or a 400 saying why there is none. */
function selectForwarder(registry: Registry, forwarders: Forwarding, service: NetworkService, node: string): NetworkServiceEndpoint {
  const endpoint = registry.findForwarder(service.forwarder, node);
  if (!endpoint) {
    const name = forwarderEndpointName(service.forwarder, node);
    const expired = registry.expiredAt(name);
    if (expired) {
      throw new NsmError(
        400,
        `network service "${service.name}" needs forwarder "${name}", whose registration expired at ${expired} and was not refreshed` +
          ` (is the forwarder running?)`,
      );
    }
    const there = registry.listEndpoints("forwarder").map((e) => e.name);
    throw new NsmError(
      400,
      `network service "${service.name}" needs forwarder "${service.forwarder}", which is not registered on node "${node}"` +
        ` (registered forwarders: ${there.join(", ") || "none"})`,
    );
  }
  forwarders.requireType(service.forwarder);
  return endpoint;
}
