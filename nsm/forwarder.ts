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

/** Appends the segment `name(connection)` to the connection's path (dropping an older one of that name). */
export function updatePath(name: (c: Connection) => string): Element<Connection> {
  return {
    name: "path",
    request: (c, next) => {
      const segment = name(c);
      const others = (c.path?.path_segments ?? []).filter((s) => s.name !== segment);
      return next.request({ ...c, path: { index: c.path?.index ?? 0, path_segments: [...others, { name: segment, id: c.id }] } });
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
