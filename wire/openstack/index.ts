// The OpenStack services a VM lifecycle needs, one client per service over one Keystone session.
import type { OpenStackSettings } from "../settings.ts";
import { GlanceClient } from "./glance.ts";
import { KeystoneSession } from "./keystone.ts";
import type { ClientOptions } from "./keystone.ts";
import { NeutronClient } from "./neutron.ts";
import { NovaClient } from "./nova.ts";

export type { ClientOptions } from "./keystone.ts";
export { AuthedService, KeystoneSession } from "./keystone.ts";
export * from "./glance.ts";
export * from "./neutron.ts";
export * from "./nova.ts";

/** The OpenStack services a VM needs, sharing one Keystone session. */
export class OpenStackClient {
  readonly keystone: KeystoneSession;
  readonly nova: NovaClient;
  readonly neutron: NeutronClient;
  readonly glance: GlanceClient;

  constructor(settings: OpenStackSettings, opts: ClientOptions = {}) {
    this.keystone = new KeystoneSession(settings, opts);
    this.nova = new NovaClient(this.keystone, opts);
    this.neutron = new NeutronClient(this.keystone, opts);
    this.glance = new GlanceClient(this.keystone, opts);
  }
}

