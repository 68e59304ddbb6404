// The lab's Linux data plane: underlay, nodes, VMs, pods, and the vRouter agents that plug ports
// into per-VN bridges. createDataplane is what lab/daemon.ts builds (docs/architecture.md).
import type http from "node:http";
import type { DatabaseSync } from "node:sqlite";
import { netns } from "../../lib/kernel/index.ts";
import { labNodes } from "../instance.ts";
import type { LabInstanceConfig } from "../instance.ts";
import { createAgentServer } from "../vrouter/agent.ts";
import { VRouterAgents } from "../vrouter/agents.ts";
import { configStorePortConfig } from "../vrouter/portConfig.ts";
import type { ConfigReader, PortConfigSource } from "../vrouter/portConfig.ts";
import { describeDataplane } from "./describe.ts";
import { nodeNetns, podNetns, underlayNetns, vmNetns } from "./names.ts";
import { LabPodRuntime } from "./podRuntime.ts";
import { Serial } from "./serial.ts";
import { DataplaneState } from "./state.ts";
import { ensureTopology } from "./topology.ts";
import type { DataplaneDescription, NodeInfo, PodRuntime, VmRuntime } from "./types.ts";
import { LabVmRuntime } from "./vmRuntime.ts";

export type * from "./types.ts";

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
  /** Builds underlay and nodes, then makes the kernel match the stored state (re-creating what is missing, removing orphans). */
  start(): Promise<void>;
  /** Stops following config changes and waits for running kernel work; kernel state stays. */
  stop(): Promise<void>;
  /** Removes every kernel object of the instance (all "<prefix>-*" namespaces). */
  destroy(): Promise<void>;
  ensureTopology(): Promise<void>;
  /** The reconcile half of start(): stored VMs, pods and ports into the kernel, orphans out. */
  reconcile(): Promise<void>;
  vmRuntime: VmRuntime;
  podRuntime: PodRuntime;
  agents: VRouterAgents;
  /** One agent HTTP server per node, not yet listening (the daemon listens on agentBase + i). */
  agentServers(): Map<string, http.Server>;
  describe(): Promise<DataplaneDescription>;
  nodes: NodeInfo[];
}

export function createDataplane(opts: DataplaneOptions): Dataplane {
  const prefix = opts.instance.prefix;
  const log = opts.log ?? (() => {});
  const nodes: NodeInfo[] = labNodes(opts.instance);
  const nodeMap = new Map(nodes.map((n) => [n.name, n]));
  const config = opts.portConfig ?? (opts.store ? configStorePortConfig(opts.store) : undefined);
  if (!config) throw new Error("createDataplane needs the TF config store (store) or a portConfig");
  const serial = new Serial();
  const state = new DataplaneState(opts.db);
  const agents = new VRouterAgents({ prefix, nodes, db: opts.db, config, serial, log });
  const vms = new LabVmRuntime({ prefix, nodes: nodeMap, state, agents, serial, log });
  const pods = new LabPodRuntime({ prefix, nodes: nodeMap, state, serial, afterInterfacesGone: () => agents.refreshNow(false) });
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
    for (const vm of state.listVms()) await vms.realize(vm).catch((e: unknown) => failures.push(`VM ${vm.serverId}: ${String(e)}`));
    for (const pod of state.listPods()) await pods.realize(pod).catch((e: unknown) => failures.push(`pod ${pod.name}: ${String(e)}`));
    await agents.refreshNow(true);
    for (const f of failures) log(`reconcile: ${f}`);
    if (failures.length > 0) throw new Error(`reconcile could not restore ${failures.length} object(s): ${failures.join("; ")}`);
  };

  return {
    nodes,
    vmRuntime: vms,
    podRuntime: pods,
    agents,
    async start() {
      await serial.run(async () => {
        await ensureTopology(prefix, nodes);
        await reconcileNow();
      });
      agents.watchConfig();
    },
    async stop() {
      agents.unwatchConfig();
      await serial.idle();
    },
    async destroy() {
      agents.unwatchConfig();
      await serial.run(async () => {
        const all = netns.list(`${prefix}-`);
        const infra = new Set([underlayNetns(prefix), ...nodes.map((n) => nodeNetns(prefix, n.name))]);
        await Promise.all(all.filter((ns) => !infra.has(ns)).map((ns) => netns.del(ns)));
        await Promise.all(all.filter((ns) => infra.has(ns)).map((ns) => netns.del(ns)));
      });
    },
    ensureTopology: () => serial.run(() => ensureTopology(prefix, nodes)),
    reconcile: () => serial.run(reconcileNow),
    agentServers() {
      servers ??= new Map(nodes.map((n) => [n.name, createAgentServer(n.name, agents)]));
      return servers;
    },
    describe: () => describeDataplane({ prefix, nodes, state, ports: () => agents.ports.list(), config }),
  };
}
