// What a forwarder is to the manager: something that builds (request) and removes (close) a
// client's interface for a network service. Forwarders are found by type, so adding a third one
// means registering it here, not touching the manager.
import type { Connection, NetworkService } from "../wire/nsm/api.ts";
import { NsmError } from "./errors.ts";

/** What the manager hands a forwarder. */
export interface ForwarderCall {
  connection: Connection;
  /** The connection was established before: this is a refresh or a heal. Forwarders rebuild what is
   *  missing and keep what is there, and on failure leave the established pieces in place. */
  refresh: boolean;
  /** The service record as it was when the connection was made (close uses this snapshot). */
  service: NetworkService;
  /** The client's node. */
  node: string;
  /** The forwarder endpoint that handles the connection, e.g. "tungsten@k8s-1". */
  endpoint: string;
}

export interface Forwarder {
  /** "tungsten", "kernel", ...: the value of NetworkService.forwarder it serves. */
  readonly type: string;
  /** The problem with a service record for this forwarder (e.g. a missing `kernel.cidr`), if any. */
  checkService?(service: NetworkService): string | undefined;
  /** Builds or refreshes the client's interface; answers the connection with its context, state UP. */
  request(call: ForwarderCall): Promise<Connection>;
  /** Removes everything request built; idempotent. */
  close(call: ForwarderCall): Promise<void>;
}

export class ForwarderRegistry {
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

  types(): string[] {
    return [...this.byType.keys()];
  }

  /** The problem with a service record: an unknown forwarder, or what that forwarder refuses. */
  checkService(service: NetworkService): string | undefined {
    const f = this.byType.get(service.forwarder);
    if (!f) return `forwarder: unknown forwarder "${service.forwarder}"; known forwarders: ${this.types().join(", ") || "none"}`;
    return f.checkService?.(service);
  }
}
