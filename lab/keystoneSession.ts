// A Keystone session for a lab instance, as its admin user: how the CLI, the lifecycle helpers and
// the test fixture get the token the lab's APIs require (lab/keystoneAuth.ts) when auth is "keystone".
import { KeystoneSession } from "../wire/openstack/index.ts";
import type { ClientOptions } from "../wire/openstack/index.ts";
import type { OpenStackSettings } from "../wire/settings.ts";
import { endpointsFor } from "./endpoints.ts";
import type { LabEndpoints } from "./endpoints.ts";
import type { LabInstanceConfig } from "./instance.ts";

/** The OpenStack settings of the lab's admin user, from its endpoints (endpoints.json or endpointsFor). */
export function labOpenStackSettings(endpoints: Pick<LabEndpoints, "keystone" | "credentials">): OpenStackSettings {
  const c = endpoints.credentials;
  return {
    authUrl: endpoints.keystone,
    userName: c.username,
    password: c.password,
    tenantName: c.project,
    userDomainName: c.domain,
    projectDomainName: c.domain,
    region: undefined,
  };
}

export function labKeystone(endpoints: Pick<LabEndpoints, "keystone" | "credentials">, opts: ClientOptions = {}): KeystoneSession {
  return new KeystoneSession(labOpenStackSettings(endpoints), opts);
}

/**
 * The token provider for the lab's own APIs (pods, /lab/*, NSM's JSON view) and TF: a session with
 * the instance's credentials (instance.json); undefined when the instance's auth is "noauth".
 */
export function labToken(config: LabInstanceConfig, opts: ClientOptions = {}): (() => Promise<string>) | undefined {
  if (config.auth !== "keystone") return undefined;
  const session = labKeystone(endpointsFor(config), opts);
  return () => session.token();
}
