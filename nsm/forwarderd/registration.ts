// A forwarder's registration with its node's NSMgr, as NSM's forwarders keep it: an endpoint of
// service "forwarder" with the forwarder's labels and URL, registered again at 2/3 of the time its
// registration has left (the registry answers the expiration it set), retried a second later when
// the NSMgr did not answer, and unregistered on shutdown.
import type { NetworkServiceEndpoint } from "../../wire/nsm/api.ts";
import { FORWARDER_SERVICE } from "../../wire/nsm/api.ts";
import type { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { parseTimestamp } from "../registry.ts";

export interface RegistrationOptions {
  client: Pick<NsmGrpcClient, "registerEndpoint" | "unregisterEndpoint">;
  name: string;
  url: string;
  labels: Record<string, string>;
  /** Asks for registrations this long (NSM_MAX_TOKEN_LIFETIME); the registry's default otherwise. */
  lifetimeMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

const RETRY_MS = 1000;

export class Registration {
  private readonly opts: RegistrationOptions;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The record as the registry answered it last. */
  current: NetworkServiceEndpoint | undefined;

  constructor(opts: RegistrationOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  record(): NetworkServiceEndpoint {
    const { name, url, labels, lifetimeMs } = this.opts;
    return {
      name,
      network_service_names: [FORWARDER_SERVICE],
      network_service_labels: { [FORWARDER_SERVICE]: { labels } },
      url,
      ...(lifetimeMs ? { expiration_time: new Date(this.now() + lifetimeMs).toISOString() } : {}),
    };
  }

  /** Registers once (throws when the NSMgr refuses or cannot be reached), then keeps refreshing until stop(). */
  async start(): Promise<NetworkServiceEndpoint> {
    this.stopped = false;
    return this.register();
  }

  private async register(): Promise<NetworkServiceEndpoint> {
    const registered = await this.opts.client.registerEndpoint(this.record());
    this.current = registered;
    const expires = parseTimestamp(registered.expiration_time) ?? this.now() + 60_000;
    this.schedule(Math.max(1, Math.floor(((expires - this.now()) * 2) / 3)));
    return registered;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.register().catch((e: unknown) => {
        this.opts.log?.(`refreshing the registration of ${this.opts.name} failed: ${(e as Error).message ?? e}; retrying`);
        this.schedule(RETRY_MS);
      });
    }, ms);
  }

  /** Stops refreshing and unregisters (a failure is logged: the registration then lapses by itself). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.opts.client.unregisterEndpoint(this.opts.name).catch((e: unknown) => this.opts.log?.(`unregistering ${this.opts.name} failed: ${(e as Error).message ?? e}`));
  }
}
