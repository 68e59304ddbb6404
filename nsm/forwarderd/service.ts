// The forwarder process's side of NSM's NetworkService: the manager's Request and Close for one
// connection at a time, run through the forwarder's elements and remembered in its store, and what
// MonitorConnections reports. A repeated Request for a connection is the manager's refresh or heal
// (it arrives as the established connection, state set), which the elements answer by keeping what
// is intact and rebuilding what is missing; the interfaces are found by the alias derived from the
// connection id, so a restarted forwarder refreshes what the one before it built. Close takes the
// connection the manager sends when this forwarder has no record of it (it then closes by names
// and aliases derived from the id, as after a lost state dir).
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { chain } from "../chain.ts";
import type { Next } from "../chain.ts";
import { assertConnectionId, nodeOf } from "../connection.ts";
import { NsmError } from "../errors.ts";
import type { Forwarder } from "../forwarder.ts";
import { Listeners } from "../listeners.ts";
import type { ConnectionChange, ConnectionStore } from "../manager.ts";
import { kernelMechanism } from "../mechanism.ts";
import { PROBLEM_METRIC } from "../../wire/nsm/protoMapping.ts";


export interface ForwarderServiceOptions {
  /** NSM_NAME: the name this forwarder registered, and its path segment's name. */
  name: string;
  /** The node this forwarder serves; a request for a client on another node is refused. */
  node: string;
  forwarder: Forwarder;
  connections: ConnectionStore;
}

export class ForwarderService {
  readonly name: string;
  private readonly opts: ForwarderServiceOptions;
  private readonly pipeline: Next<Connection>;
  private readonly queue = new KeyedQueue();
  private readonly changes = new Listeners<ConnectionChange>();

  constructor(opts: ForwarderServiceOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.pipeline = chain([opts.forwarder]);
  }

  async request(req: NetworkServiceRequest): Promise<Connection> {
    const c = this.valid(req);
    return this.queue.run(c.id, async () => {
      // Over the wire every connection has a state (UP is proto3's default), so whether this is a
      // refresh (keep what is there, even when rebuilding fails) or a first request (undo all on
      // failure) is what this forwarder remembers of the id.
      const known = (await this.opts.connections.get(c.id)) !== undefined;
      const { state, ...fresh } = c;
      const out = await this.pipeline.request(known ? { ...fresh, state: state ?? "UP" } : fresh);
      await this.opts.connections.set(c.id, out);
      this.changes.emit({ type: "UPDATE", connection: out });
      return out;
    });
  }

  /** Closing a connection this forwarder never built, and was not sent, is fine. */
  async close(conn: Connection): Promise<void> {
    assertConnectionId(conn?.id);
    await this.queue.run(conn.id, async () => {
      const known = (await this.opts.connections.get(conn.id)) ?? (conn.mechanism && conn.network_service ? conn : undefined);
      if (!known) return;
      await this.pipeline.close(known);
      await this.opts.connections.delete(conn.id);
      this.changes.emit({ type: "DELETE", connection: known });
    });
  }

  /** The connection with the state its elements find now: UP, or DOWN with the reason in this forwarder's path segment (metric tfmesh.problem). */
  async checked(c: Connection): Promise<Connection> {
    const problem = await this.queue.run(c.id, () => this.pipeline.check(c)).catch((e: unknown) => `checking failed: ${(e as Error).message ?? e}`);
    if (problem === undefined) return { ...c, state: "UP" };
    // The forwarder's segment is the one its `path` element added, named after the endpoint.
    const own = c.network_service_endpoint_name ?? this.name;
    const found = (c.path?.path_segments ?? []).some((s) => s.name === own);
    const segments = [...(c.path?.path_segments ?? []), ...(found ? [] : [{ name: own, id: c.id }])].map((s) =>
      s.name === own ? { ...s, metrics: { ...s.metrics, [PROBLEM_METRIC]: problem } } : s,
    );
    return { ...c, state: "DOWN", path: { index: c.path?.index ?? 0, path_segments: segments } };
  }

  list(): Connection[] {
    return this.opts.connections.list();
  }

  watch(listener: (change: ConnectionChange) => void): () => void {
    return this.changes.add(listener);
  }

  private valid(req: NetworkServiceRequest): Connection {
    const c = req?.connection;
    if (!c || typeof c !== "object") throw new NsmError(400, "the request needs a connection");
    assertConnectionId(c.id);
    if (!c.network_service) throw new NsmError(400, `connection ${c.id}: network_service is required`);
    if (nodeOf(c) !== this.opts.node) {
      throw new NsmError(400, `connection ${c.id}: forwarder ${this.name} serves node "${this.opts.node}", not the client's node "${nodeOf(c)}"`);
    }
    return { ...c, mechanism: kernelMechanism(req.mechanism_preferences, c.mechanism, c.labels) };
  }
}
