// What a forwarder is to the manager: the last part of its chain. The manager's `forward` element
// passes a connection on to the forwarder the connection was bound to, which builds (request),
// removes (close) or checks the client's interface. Two kinds of `Forwarding` give that element:
// ForwarderRegistry runs the forwarders' elements in the manager's own process (unit tests, and a
// lab built without forwarder processes), RemoteForwarders (remoteForwarders.ts) calls the
// registered forwarder process over NSM's gRPC API. Forwarders are found by type, so adding a
// third one means registering it here, not touching the manager.
import type { Connection, NetworkService } from "../wire/nsm/api.ts";
import { forwarderTypeOf } from "../wire/nsm/api.ts";
import type { Element } from "./chain.ts";
import { compose } from "./chain.ts";
import { NsmError } from "./errors.ts";

/**
 * A forwarder: one element made of its own. It receives a connection with
 * network_service_endpoint_name "<type>@<node>", payload, and the service's section for this
 * forwarder in extra_context (`<type>.<key>`, see serviceBinding), and answers it with its
 * context filled, its path through the forwarder, and state UP. Close removes everything request
 * built and is idempotent; check says what of it broke.
 */
export interface Forwarder extends Element<Connection> {
  /** "tungsten", "kernel", ...: the value of NetworkService.forwarder it serves. */
  readonly type: string;
  /** The problem with a service record for this forwarder (e.g. a missing `kernel.cidr`), if any. */
  checkService?(service: NetworkService): string | undefined;
}

/**
 * This hop's segment in the connection's path, as NSM's updatepath places it: `path.index` points at
 * the previous hop's segment; the next segment is this hop's when it already has this name (a
 * refresh keeps the rest of the path), else the path is cut after the previous hop's segment and
 * this hop's appended (a new or reselected path). The rest of the chain sees `index` at this hop's
 * segment; the answer goes back with the caller's index.
 */
export function placeSegment(path: Connection["path"], name: string, id: string): NonNullable<Connection["path"]> {
  const segments = path?.path_segments ?? [];
  if (segments.length === 0) return { index: 0, path_segments: [{ name, id }] };
  const at = Math.min(path?.index ?? 0, segments.length - 1);
  if (segments[at]!.name === name) return { index: at, path_segments: segments };
  if (segments[at + 1]?.name === name) return { index: at + 1, path_segments: segments };
  return { index: at + 1, path_segments: [...segments.slice(0, at + 1), { name, id }] };
}

export function updatePath(name: (c: Connection) => string): Element<Connection> {
  return {
    name: "path",
    request: async (c, next) => {
      const callerIndex = c.path?.index ?? 0;
      const answer = await next.request({ ...c, path: placeSegment(c.path, name(c), c.id) });
      return answer.path ? { ...answer, path: { ...answer.path, index: Math.min(callerIndex, answer.path.index) } } : answer;
    },
    close: (c, next) => next.close(c),
  };
}

/** The connection is UP once every element built its part. */
const up: Element<Connection> = {
  name: "up",
  request: (c, next) => next.request({ ...c, state: "UP" }),
  close: (c, next) => next.close(c),
};

/** A forwarder of `type` whose elements run top to bottom on request and bottom to top on close. */
export function forwarder(type: string, elements: readonly Element<Connection>[], checkService?: Forwarder["checkService"]): Forwarder {
  const path = updatePath((c) => c.network_service_endpoint_name ?? type);
  return { type, ...(checkService ? { checkService } : {}), ...compose(type, [path, ...elements, up]) };
}

/** How the manager reaches its forwarders: the types it knows, their service checks, and its last element. */
export interface Forwarding {
  /** A 400 naming the known types when `type` is not one. */
  requireType(type: string): void;
  types(): string[];
  /** The problem with a service record: an unknown forwarder, or what that forwarder refuses. */
  checkService(service: NetworkService): string | undefined;
  /** The manager's last element: the connection's forwarder takes it from here. */
  forward(): Element<Connection>;
}

export class ForwarderRegistry implements Forwarding {
  private readonly byType = new Map<string, Forwarder>();

  constructor(forwarders: Forwarder[] = []) {
    for (const f of forwarders) this.register(f);
  }

  register(forwarder: Forwarder): void {
    if (this.byType.has(forwarder.type)) throw new Error(`forwarder type "${forwarder.type}" registered twice`);
    this.byType.set(forwarder.type, forwarder);
  }

  find(type: string): Forwarder | undefined {
    return this.byType.get(type);
  }

  /** The forwarder of `type`, or a 400 naming the known ones. */
  get(type: string): Forwarder {
    const f = this.byType.get(type);
    if (!f) throw new NsmError(400, `unknown forwarder "${type}"; known forwarders: ${this.types().join(", ") || "none"}`);
    return f;
  }

  requireType(type: string): void {
    this.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  /** The problem with a service record: an unknown forwarder, or what that forwarder refuses. */
  checkService(service: NetworkService): string | undefined {
    const f = this.byType.get(service.forwarder);
    if (!f) return `forwarder: unknown forwarder "${service.forwarder}"; known forwarders: ${this.types().join(", ") || "none"}`;
    return f.checkService?.(service);
  }

  /** The manager's last element: the forwarder the connection's endpoint name says takes it from here. */
  forward(): Element<Connection> {
    const of = (c: Connection) => this.get(forwarderTypeOf(c.network_service_endpoint_name) ?? "");
    return {
      name: "nsmgr/forward",
      request: (c, next) => of(c).request(c, next),
      close: (c, next) => of(c).close(c, next),
      check: (c, next) => of(c).check?.(c, next) ?? next.check(c),
    };
  }
}
