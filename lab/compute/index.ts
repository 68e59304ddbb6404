// The lab's compute nodes put together: the Linux data plane (lab/dataplane: underlay, nodes, VN
// plumbing, VM and pod namespaces), a vRouter agent per node (lab/vrouter) that plugs ports into
// the per-VN bridges, and the runtimes that put VMs and pods on the nodes. createDataplane is what
// lab/daemon.ts builds (docs/contracts.md, "Daemon composition").
import type http from "node:http";
import type { DatabaseSync } from "node:sqlite";
import { netns } from "../../lib/kernel/index.ts";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import { nodeNetns, podNetns, underlayNetns, vmNetns } from "../dataplane/names.ts";
import { LabPodRuntime } from "../dataplane/podRuntime.ts";
import { DataplaneState } from "../dataplane/state.ts";
import { ensureTopology } from "../dataplane/topology.ts";
import type { KernelTurn, NodeInfo, PodRuntime, VmRuntime } from "../dataplane/types.ts";
import { labNodes } from "../instance.ts";
import type { LabInstanceConfig } from "../instance.ts";
import { createAgentServer } from "../vrouter/agent.ts";
import { VRouterAgents } from "../vrouter/agents.ts";
import { configStorePortConfig } from "../vrouter/portConfig.ts";
import type { ConfigReader, PortConfigSource } from "../vrouter/portConfig.ts";
import { describeDataplane } from "./describe.ts";
import type { DataplaneDescription } from "./describe.ts";
import { LabVmRuntime } from "./vmRuntime.ts";

export interface DataplaneOptions {
  instance: Pick<LabInstanceConfig, "name" | "prefix" | "computeNodes" | "k8sNodes">;
  db: DatabaseSync;
  /** The TF ConfigStore the agents read port config from. */
  store?: ConfigReader;
  /** Overrides `store` (tests use a fake). */
  portConfig?: PortConfigSource;
  log?: (line: string) => void;
}

export interface Dataplane {
  /**
   * Builds underlay and nodes, then makes the kernel match the stored state (re-creating what is
   * missing, removing orphans) and plugs every stored VM's ports its agent no longer carries.
   */
  start(): Promise<void>;
  /** Stops following config changes and waits for running kernel work; kernel state stays. */
  stop(): Promise<void>;
  /** Removes every kernel object of the instance (all "<prefix>-*" namespaces). */
  destroy(): Promise<void>;
  vmRuntime: VmRuntime;
  podRuntime: PodRuntime;
  agents: VRouterAgents;
  /** One agent HTTP server per node, never listening: the daemon hands it the connections of the node's agent socket. */
  agentServers(): Map<string, http.Server>;
  describe(): Promise<DataplaneDescription>;
}

/** The one key of the instance's kernel queue: all its kernel work runs one at a time. */
const KERNEL = "kernel";

export function createDataplane(opts: DataplaneOptions): Dataplane {
  const prefix = opts.instance.prefix;
  const log = opts.log ?? (() => {});
  const nodes: NodeInfo[] = labNodes(opts.instance);
  const nodeMap = new Map(nodes.map((n) => [n.name, n]));
  const config = opts.portConfig ?? (opts.store ? configStorePortConfig(opts.store) : undefined);
  if (!config) throw new Error("createDataplane needs the TF config store (store) or a portConfig");
  const kernel = new KeyedQueue();
  const inTurn: KernelTurn = (work) => kernel.run(KERNEL, work);
  const state = new DataplaneState(opts.db);
  const agents = new VRouterAgents({ prefix, nodes, db: opts.db, config, inTurn, log });
  const vms = new LabVmRuntime({ prefix, nodes: nodeMap, state, agents, inTurn, log });
  const pods = new LabPodRuntime({ prefix, nodes: nodeMap, state, inTurn, afterInterfacesGone: () => agents.refreshNow(false) });
  let servers: Map<string, http.Server> | undefined;

  const knownNamespaces = () =>
    new Set([
      underlayNetns(prefix),
      ...nodes.map((n) => nodeNetns(prefix, n.name)),
      ...state.listVms().map((vm) => vmNetns(prefix, vm.serverId)),
      ...state.listPods().map((p) => podNetns(prefix, p.name)),
    ]);

  const removeOrphans = async () => {
    const known = knownNamespaces();
    for (const ns of netns.list(`${prefix}-`)) {
      if (known.has(ns)) continue;
      log(`removing orphan namespace ${ns}`);
      await netns.del(ns);
    }
  };

  const reconcileNow = async () => {
    await removeOrphans();
    const failures: string[] = [];
    for (const vm of state.listVms()) await vms.restoreNow(vm).catch((e: unknown) => failures.push(`VM ${vm.serverId}: ${String(e)}`));
    for (const pod of state.listPods()) await pods.realize(pod).catch((e: unknown) => failures.push(`pod ${pod.name}: ${String(e)}`));
    await agents.refreshNow(true);
    for (const f of failures) log(`reconcile: ${f}`);
    if (failures.length > 0) throw new Error(`reconcile could not restore ${failures.length} object(s): ${failures.join("; ")}`);
  };

  return {
    vmRuntime: vms,
    podRuntime: pods,
    agents,
    async start() {
      await inTurn(async () => {
        await ensureTopology(prefix, nodes);
        await reconcileNow();
      });
      agents.watchConfig();
    },
    async stop() {
      agents.unwatchConfig();
      await kernel.idle();
    },
    async destroy() {
      agents.unwatchConfig();
      await inTurn(async () => {
        const all = netns.list(`${prefix}-`);
        const infra = new Set([underlayNetns(prefix), ...nodes.map((n) => nodeNetns(prefix, n.name))]);
        await Promise.all(all.filter((ns) => !infra.has(ns)).map((ns) => netns.del(ns)));
        await Promise.all(all.filter((ns) => infra.has(ns)).map((ns) => netns.del(ns)));
      });
    },
    agentServers() {
      servers ??= new Map(nodes.map((n) => [n.name, createAgentServer(n.name, agents)]));
      return servers;
    },
    describe: () => describeDataplane({ prefix, nodes, state, ports: () => agents.ports.list(), config }),
  };
}
