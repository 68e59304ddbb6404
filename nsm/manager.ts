// The NSM manager (NSMgr) of the nodes: takes a client's Request, checks the network service exists,
// picks the forwarder the service names among the forwarders registered for the client's node,
// passes the request on and remembers the connection; Close undoes it. Itself a chain:
//
//   begin            one at a time per connection id; a repeated Request is a refresh; remembers
//   findService      the service must be registered (404)
//   selectForwarder  "<forwarder>@<node>" must be registered, unexpired, and its type known (400)
//   reselect         a refresh whose service or forwarder changed closes the old connection first
//   forward          the forwarder builds the interface
import type { Connection, NetworkService, NetworkServiceRequest } from "../wire/nsm/api.ts";
import { forwarderEndpointName, NODE_LABEL } from "../wire/nsm/api.ts";
import { begin, chain } from "./chain.ts";
import type { Element, Memory, Next } from "./chain.ts";
import { NsmError } from "./errors.ts";
import type { ForwarderRegistry } from "./forwarder.ts";
import { kernelMechanism } from "./mechanism.ts";
import type { Registry } from "./registry.ts";

/** What the manager remembers per connection. */
export interface StoredConnection {
  connection: Connection;
  /** The service as it was when the connection was made. */
  service: NetworkService;
  node: string;
  /** "<forwarder>@<node>" */
  endpoint: string;
  /** The forwarder type. */
  forwarder: string;
}

/** Persisted connections (sqlite in the lab). */
export interface ConnectionStore extends Memory<StoredConnection> {
  get(id: string): StoredConnection | undefined;
  list(): StoredConnection[];
}

/** A request on its way through the manager's chain. */
interface ManagerCall {
  connection: Connection;
  service?: NetworkService;
  node?: string;
  endpoint?: string;
  forwarder?: string;
  /** Set by begin on a refresh: what was established before. */
  established?: StoredConnection;
}

export interface ManagerOptions {
  registry: Registry;
  connections: ConnectionStore;
  forwarders: ForwarderRegistry;
  /** Names this manager in connection paths. Default "nsmgr". */
  name?: string;
}

const CONNECTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class Manager {
  private readonly opts: ManagerOptions;
  private readonly pipeline: Next<ManagerCall>;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.pipeline = chain<ManagerCall>([
      begin<ManagerCall>({
        id: (c) => c.connection.id,
        memory: storedCalls(opts.connections),
        refresh: (established, incoming) => ({ ...incoming, connection: refreshed(established.connection, incoming.connection), established: stored(established) }),
      }),
      findService(opts.registry),
      selectForwarder(opts.registry, opts.forwarders),
      reselect(),
      forward(opts.forwarders, opts.name ?? "nsmgr"),
    ]);
  }

  /** Request(NetworkServiceRequest) -> Connection (state UP, context filled). */
  async request(req: NetworkServiceRequest): Promise<Connection> {
    const connection = validRequest(req);
    const out = await this.pipeline.request({ connection });
    return out.connection;
  }

  /** Close(Connection): needs only the id; closing an unknown connection is fine. */
  async close(conn: Pick<Connection, "id">): Promise<void> {
    if (!conn || typeof conn.id !== "string" || conn.id === "") throw new NsmError(400, "close needs the connection id");
    await this.pipeline.close({ connection: { id: conn.id, network_service: "" } });
  }

  get(id: string): Connection | undefined {
    return this.opts.connections.get(id)?.connection;
  }

  list(): Connection[] {
    return this.opts.connections.list().map((s) => s.connection);
  }

  /** The stored connections that match. */
  find(match: (s: StoredConnection) => boolean): StoredConnection[] {
    return this.opts.connections.list().filter(match);
  }

  /** Closes every connection that matches; tries all, then throws the first failure. */
  async closeWhere(match: (s: StoredConnection) => boolean): Promise<void> {
    const results = await Promise.allSettled(this.find(match).map((s) => this.close(s.connection)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Re-requests every stored connection (a refresh rebuilds missing pieces), a few at a time. Reports failures per id. */
  async heal(concurrency = 8): Promise<Array<{ connection: StoredConnection; error?: unknown }>> {
    const todo = this.opts.connections.list();
    const results: Array<{ connection: StoredConnection; error?: unknown }> = [];
    const worker = async () => {
      for (let s = todo.shift(); s; s = todo.shift()) {
        try {
          await this.request({ connection: s.connection });
          results.push({ connection: s });
        } catch (error) {
          results.push({ connection: s, error });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return results;
  }
}

function validRequest(req: NetworkServiceRequest): Connection {
  const c = req?.connection;
  if (!c || typeof c !== "object") throw new NsmError(400, "the request needs a connection");
  if (typeof c.id !== "string" || !CONNECTION_ID.test(c.id)) {
    throw new NsmError(400, `connection id must be 1..128 characters from [A-Za-z0-9._-], got ${JSON.stringify(c.id)}`);
  }
  if (typeof c.network_service !== "string" || c.network_service === "") throw new NsmError(400, `connection ${c.id}: network_service is required`);
  const labels = c.labels ?? {};
  if (typeof labels !== "object" || Object.values(labels).some((v) => typeof v !== "string")) {
    throw new NsmError(400, `connection ${c.id}: labels must map names to strings`);
  }
  if (!labels[NODE_LABEL]) throw new NsmError(400, `connection ${c.id}: label ${NODE_LABEL} (the client's node) is required`);
  return { ...c, labels: { ...labels }, mechanism: kernelMechanism(req.mechanism_preferences, c.mechanism) };
}

/** A refresh keeps what the first request settled (e.g. the generated interface name) unless the client changes it. */
function refreshed(established: Connection, incoming: Connection): Connection {
  const params = { ...established.mechanism?.parameters };
  for (const [k, v] of Object.entries(incoming.mechanism?.parameters ?? {})) if (v !== "") params[k] = v;
  return {
    ...incoming,
    mechanism: { ...(incoming.mechanism ?? established.mechanism!), parameters: params },
    ...(established.context ? { context: established.context } : {}),
    ...(established.path ? { path: established.path } : {}),
  };
}

function stored(c: ManagerCall | StoredConnection): StoredConnection {
  if (!c.service || !c.node || !c.endpoint || !c.forwarder) throw new Error(`connection ${c.connection.id} is incomplete`);
  return { connection: c.connection, service: c.service, node: c.node, endpoint: c.endpoint, forwarder: c.forwarder };
}

/** The connection store seen as begin's memory of ManagerCalls. */
function storedCalls(store: ConnectionStore): Memory<ManagerCall> {
  return { get: (id) => store.get(id), set: (id, call) => store.set(id, stored(call)), delete: (id) => store.delete(id) };
}

function findService(registry: Registry): Element<ManagerCall> {
  return {
    name: "nsmgr/find-service",
    request: (call, next) => next.request({ ...call, service: registry.requireService(call.connection.network_service) }),
    close: (call, next) => next.close(call),
  };
}

function selectForwarder(registry: Registry, forwarders: ForwarderRegistry): Element<ManagerCall> {
  return {
    name: "nsmgr/select-forwarder",
    request: (call, next) => {
      const service = call.service!;
      const node = call.connection.labels![NODE_LABEL]!;
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
      forwarders.get(service.forwarder);
      return next.request({ ...call, node, endpoint: endpoint.name, forwarder: service.forwarder });
    },
    close: (call, next) => next.close(call),
  };
}

/** NSM reselects when what a connection was built for changed: close the old one, build anew. */
function reselect(): Element<ManagerCall> {
  return {
    name: "nsmgr/reselect",
    request: async (call, next) => {
      const old = call.established;
      if (old && (old.endpoint !== call.endpoint || JSON.stringify(old.service) !== JSON.stringify(call.service))) {
        await next.close({ ...old });
        const { established: _, ...fresh } = call;
        const { context: _ctx, ...connection } = fresh.connection;
        return next.request({ ...fresh, connection });
      }
      return next.request(call);
    },
    close: (call, next) => next.close(call),
  };
}

function forward(forwarders: ForwarderRegistry, managerName: string): Element<ManagerCall> {
  return {
    name: "nsmgr/forward",
    request: async (call, next) => {
      const s = stored(call);
      const connection = await forwarders.get(s.forwarder).request({
        connection: { ...s.connection, path: { index: 0, path_segments: [{ name: `${managerName}@${s.node}`, id: s.connection.id }] } },
        refresh: call.established !== undefined,
        service: s.service,
        node: s.node,
        endpoint: s.endpoint,
      });
      return next.request({ ...s, connection });
    },
    close: async (call, next) => {
      const s = stored(call);
      await next.close(call);
      await forwarders.get(s.forwarder).close({ connection: s.connection, refresh: true, service: s.service, node: s.node, endpoint: s.endpoint });
    },
  };
}
