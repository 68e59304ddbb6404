// The lab's OpenStack: Keystone, Nova, Neutron and Glance over one TF store, composed as the
// daemon expects (docs/contracts.md, "Daemon composition").
import type http from "node:http";
import type { DatabaseSync } from "node:sqlite";
import type { LabEndpoints } from "../endpoints.ts";
import type { LabInstanceConfig } from "../instance.ts";
import type { ConfigStore } from "../tf/configStore.ts";
import { hexId } from "./common.ts";
import type { TokenValidator } from "./common.ts";
import { createGlanceServer } from "./glance.ts";
import { Keystone } from "./keystone.ts";
import { createNeutronServer } from "./neutron.ts";
import { NeutronModel } from "./neutronModel.ts";
import { createNovaServer } from "./nova.ts";
import { NovaModel } from "./novaModel.ts";
import { ServerViews } from "./novaViews.ts";
import type { VmRuntime } from "../dataplane/types.ts";

export type { TokenValidator } from "./common.ts";
export type { VmPort, VmRuntime } from "../dataplane/types.ts";

export interface OpenStackOptions {
  db: DatabaseSync;
  store: ConfigStore;
  instance: Pick<LabInstanceConfig, "computeNodes" | "auth" | "credentials">;
  endpoints: Pick<LabEndpoints, "keystone" | "nova" | "neutron" | "glance">;
  vmRuntime: VmRuntime;
  tokenTtlSeconds?: number;
  bootTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface OpenStack {
  keystone: { server: http.Server; validateToken: TokenValidator };
  nova: http.Server;
  neutron: http.Server;
  glance: http.Server;
  /** In-process access for the daemon and tests. */
  model: { keystone: Keystone; neutron: NeutronModel; nova: NovaModel };
  /**
   * Boots again the servers a stop left in BUILD or HARD_REBOOT. Call it once the data plane
   * reconciled the kernel: after a host reboot a boot started before would find no node to boot on.
   */
  resume(): void;
}

export function createOpenStack(opts: OpenStackOptions): OpenStack {
  const neutronModel = new NeutronModel(opts.store, opts.db);
  const keystone = new Keystone({
    db: opts.db,
    credentials: opts.instance.credentials,
    endpoints: opts.endpoints,
    projectId: hexId(neutronModel.projectUuid),
    ...(opts.tokenTtlSeconds !== undefined ? { tokenTtlSeconds: opts.tokenTtlSeconds } : {}),
  });
  // In no-auth mode every service accepts requests without a token, like TF's no-auth mode.
  const auth = opts.instance.auth === "keystone" ? keystone.validateToken : null;
  const nova = new NovaModel({
    db: opts.db,
    store: opts.store,
    neutron: neutronModel,
    computeNodes: opts.instance.computeNodes,
    vmRuntime: opts.vmRuntime,
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.bootTimeoutMs !== undefined ? { bootTimeoutMs: opts.bootTimeoutMs } : {}),
  });
  const views = new ServerViews({ store: opts.store, neutron: neutronModel, projectId: keystone.identity.project.id, userId: keystone.identity.user.id });
  return {
    keystone: { server: keystone.createServer(), validateToken: keystone.validateToken },
    nova: createNovaServer({ model: nova, views, auth }),
    neutron: createNeutronServer({ model: neutronModel, auth, isServer: nova.isServer }),
    glance: createGlanceServer(auth),
    model: { keystone, neutron: neutronModel, nova },
    resume: () => nova.resume(),
  };
}
