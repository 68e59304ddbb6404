// The lab's own read-only API on its port (ports.lab): health (for `lab up` and the test fixture), status
// (nodes and object counts) and topology (the data plane's description with TF/Nova names filled in).
// With Keystone auth, everything but /lab/health needs a token; health without one is a liveness
// probe and answers only its status.
import type { ApiRequest, Route } from "../lib/http/server.ts";
import type { KeystoneCheck } from "./keystoneAuth.ts";
import type { LabEndpoints } from "./endpoints.ts";
import type { LabInstanceConfig, LabNode } from "./instance.ts";
import type { LabHealth } from "./lifecycle.ts";
import type { TfObject } from "./tf/configStore.ts";
import type { TopologyView } from "./topologyView.ts";

export interface LabStatus {
  health: LabHealth;
  nodes: Array<LabNode & { agent: string }>;
  counts: { virtualNetworks: number; virtualMachines: number; ports: number; pods: number; connections: number };
}

/** What introspection reads; the daemon hands in the live parts. */
export interface LabState {
  config: LabInstanceConfig;
  endpoints: LabEndpoints;
  health: LabHealth;
  nodes: LabNode[];
  store: {
    list(type: string, q?: { detail?: boolean; fields?: string[] }): TfObject[] | { count: number };
    find(type: string, uuid: string): TfObject | undefined;
    idToFqName(uuid: string): { fq_name: string[]; type: string };
  };
  dataplane: { describe(): Promise<Omit<TopologyView, "instance" | "prefix">> };
  /** The Kubernetes pods the lab runs: a runtime pod's name as people know it, and how many there are. */
  pods: { name(runtimeName: string): string | undefined; count(): number };
  /** NSM connections the manager holds. */
  connections: () => number;
}

const asList = (r: TfObject[] | { count: number }): TfObject[] => (Array.isArray(r) ? r : []);

// Pods attached through NSM get a TF virtual-machine too (server_type "container"); they are not VMs.
const isNovaVm = (vm: TfObject) => vm.server_type !== "container";

async function labStatus(s: LabState): Promise<LabStatus> {
  const vns = asList(s.store.list("virtual-network")).filter((vn) => vn.fq_name[1] !== "default-project");
  const vms = asList(s.store.list("virtual-machine", { detail: true })).filter(isNovaVm);
  const ports = asList(s.store.list("virtual-machine-interface"));
  return {
    health: { ...s.health },
    nodes: s.nodes.map((n) => ({ ...n, agent: s.endpoints.agents[n.name] ?? "" })),
    counts: {
      virtualNetworks: vns.length,
      virtualMachines: vms.length,
      ports: ports.length,
      pods: s.pods.count(),
      connections: s.connections(),
    },
  };
}

export async function labTopology(s: LabState): Promise<TopologyView> {
  const d = await s.dataplane.describe();
  const fqOf = (uuid: string | undefined) => {
    if (!uuid) return undefined;
    try {
      return s.store.idToFqName(uuid).fq_name.join(":");
    } catch {
      return undefined;
    }
  };
  const vmName = (id: string) => {
    const vm = s.store.find("virtual-machine", id);
    const name = vm?.display_name ?? vm?.name;
    return typeof name === "string" ? name : undefined;
  };
  return {
    instance: s.config.name,
    prefix: s.config.prefix,
    underlay: d.underlay,
    nodes: d.nodes.map((n) => ({
      ...n,
      networks: n.networks.map((net) => ({ ...net, fqName: net.fqName ?? fqOf(net.vnUuid) })),
      // The data plane remembers the name a VM booted with; Nova keeps the TF virtual-machine's
      // display_name equal to the server's current name (PUT /servers/{id} renames in place).
      vms: n.vms.map((vm) => ({ ...vm, name: vmName(vm.serverId) ?? vm.name })),
      pods: n.pods.map((pod) => ({ ...pod, name: s.pods.name(pod.name) ?? pod.name })),
    })),
  };
}

/** Answered without a token: the probe a supervisor polls before it has credentials. */
export const LAB_HEALTH_PATH = "/lab/health";

/** `auth` decides how much of the health a caller sees: the status only, unless it sent a valid token. */
export function introspectionRoutes(s: LabState, auth?: KeystoneCheck): Route[] {
  const health = (req: ApiRequest) => (!auth || auth.accepts(req) ? s.health : { status: s.health.status });
  return [
    { method: "GET", pattern: LAB_HEALTH_PATH, handler: (req) => ({ body: health(req) }) },
    { method: "GET", pattern: "/lab/status", handler: async () => ({ body: await labStatus(s) }) },
    { method: "GET", pattern: "/lab/topology", handler: async () => ({ body: await labTopology(s) }) },
  ];
}
