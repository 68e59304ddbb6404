// The lab's NSM: registry and manager in the daemon's process, with their state in the lab database
// (the registry's records there too, unless the caller gives it another store: with Kubernetes the
// daemon gives it NSM's CRs, lab/nsm/crdStore.ts), and the tungsten and kernel forwarders of every k8s node. With `forwarders: "processes"` (the
// daemon) the forwarders are `tfmesh forwarder` processes in the nodes' netns (lab/nsm/forwarderProcesses.ts)
// that register themselves, and the manager calls them over NSM's gRPC API; with "in-process" (the
// default, for tests that need no processes) their elements run here, registered by this module,
// reaching TF and the vRouter agents over HTTP with the same clients the processes use.
import type { DatabaseSync } from "node:sqlite";
import { forwarderEndpoint, POD_LABEL } from "../../wire/nsm/api.ts";
import type { Forwarding } from "../../nsm/forwarder.ts";
import { checkKernelService } from "../../nsm/forwarders/kernel/index.ts";
import { checkTungstenService } from "../../nsm/forwarders/tungsten/index.ts";
import { RemoteForwarders } from "../../nsm/remoteForwarders.ts";
import type { KernelOps } from "../../nsm/forwarders/common/kernelOps.ts";
import { linuxKernel } from "../../nsm/forwarders/common/kernelOps.ts";
import { Manager } from "../../nsm/manager.ts";
import { netnsOf } from "../../nsm/mechanism.ts";
import { Registry } from "../../nsm/registry.ts";
import type { RegistryStore } from "../../nsm/registry.ts";
import type { LabEndpoints } from "../endpoints.ts";
import type { LabInstanceConfig } from "../instance.ts";
import { createNsmGrpcServer } from "./grpc/server.ts";
import { inProcessForwarders } from "./inProcessForwarders.ts";
import type { NsmGrpcServer } from "./grpc/server.ts";
import { nsmStores } from "./store.ts";
import type { GrpcSecurity } from "../../nsm/grpc/secureServer.ts";

export interface NsmOptions {
  db: DatabaseSync;
  instance: Pick<LabInstanceConfig, "prefix" | "k8sNodes" | "auth">;
  endpoints: Pick<LabEndpoints, "tf" | "keystone" | "nsm" | "agents" | "credentials">;
  log?: (line: string) => void;
  /** Tests may watch or replace the kernel. */
  kernel?: KernelOps;
  /** Lifetime of the forwarders' registrations in ms (refreshed at 2/3 of it). Default one minute, as NSM. */
  endpointLifetimeMs?: number;
  /** The registry's clock (ms since the epoch); tests pass their own. */
  now?: () => number;
  /** "in-process" (default): the forwarders' elements run here, registered by start(); "processes":
   *  forwarder processes register themselves and are called over gRPC. */
  forwarders?: "in-process" | "processes";
  /** Where the registry keeps its records. Default: the sqlite tables nsm_service and nsm_endpoint. */
  registryStore?: RegistryStore;
  /** NSM's security (the lab's SPIRE SVIDs): mTLS and path tokens on the gRPC API and to the forwarders. */
  security?: GrpcSecurity;
}

export interface LabNsm {
  /** NSM's gRPC API over the same registry and manager. */
  grpcServer: NsmGrpcServer;
  registry: Registry;
  manager: Manager & { closeByPod(podName: string): Promise<void> };
  /** In-process: registers the forwarders of every k8s node and keeps refreshing their
   *  registrations at 2/3 of their lifetime until stop(). Both: heals the stored connections
   *  (with processes, call it once they registered). */
  start(): Promise<void>;
  /** In-process: registers (again) the forwarders of every k8s node, each for one lifetime from now. */
  registerForwarders(): void;
  stop(): Promise<void>;
}

export function createNsm(opts: NsmOptions): LabNsm {
  const { instance, endpoints } = opts;
  const log = opts.log ?? (() => {});
  const kernel = opts.kernel ?? linuxKernel;
  const stores = nsmStores(opts.db);

  const podNetnsPrefix = `${instance.prefix}-pod-`;
  const local = (opts.forwarders ?? "in-process") === "in-process" ? inProcessForwarders({ instance, endpoints, kernel, stores }) : undefined;
  // The registry checks services through the forwarders, and the remote forwarders find their URLs in the registry.
  let forwarders: Forwarding | undefined = local;
  const registry = new Registry(opts.registryStore ?? stores, {
    checkService: (s) => forwarders!.checkService(s),
    ...(opts.endpointLifetimeMs !== undefined ? { endpointLifetimeMs: opts.endpointLifetimeMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const remote = local
    ? undefined
    : new RemoteForwarders({ registry, serviceChecks: { tungsten: checkTungstenService, kernel: checkKernelService }, ...(opts.security ? { source: opts.security.source } : {}) });
  forwarders = local ?? remote!;
  const manager = Object.assign(new Manager({ registry, connections: stores.connections, forwarders }), {
    closeByPod: (podName: string) =>
      manager.closeWhere((c) => c.labels?.[POD_LABEL] === podName || netnsOf(c.mechanism) === `${podNetnsPrefix}${podName}`),
  });

  const registerForwarders = () => {
    if (!local) return;
    for (const node of instance.k8sNodes) {
      for (const type of local.types()) registry.registerEndpoint(forwarderEndpoint(type, node, endpoints.nsm));
    }
  };
  let refresher: NodeJS.Timeout | undefined;
  const stopRefreshing = () => {
    if (refresher) clearInterval(refresher);
    refresher = undefined;
  };
  /** In-process forwarders are registered by the daemon, and refreshed at 2/3 of the lifetime as NSM's forwarders do. */
  const startRefreshing = () => {
    registerForwarders();
    stopRefreshing();
    refresher = setInterval(() => {
      try {
        registerForwarders();
      } catch (e) {
        log(`nsm: refreshing the forwarder registrations failed: ${(e as Error).message}`);
      }
    }, Math.max(1, Math.floor((registry.endpointLifetimeMs * 2) / 3)));
    refresher.unref();
  };

  return {
    grpcServer: createNsmGrpcServer({ registry, manager, ...(opts.security ? { security: opts.security } : {}) }),
    registry,
    manager,
    registerForwarders,
    async start() {
      if (local) startRefreshing();
      for (const { connection: c, error } of await manager.heal()) {
        if (!error) continue;
        const netns = netnsOf(c.mechanism);
        if (netns && !kernel.netnsExists(netns)) {
          // The pod went away while the daemon was down: nothing to heal, but its TF objects and leases must go.
          log(`nsm: connection ${c.id}: pod netns ${netns} is gone; closing it`);
          await manager.close(c).catch((e: Error) => log(`nsm: closing ${c.id} failed: ${e.message}`));
        } else {
          log(`nsm: healing connection ${c.id} failed: ${(error as Error).message ?? error}`);
        }
      }
    },
    async stop() {
      stopRefreshing();
      remote?.close();
    },
  };
}
