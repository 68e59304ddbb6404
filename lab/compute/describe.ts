// The data plane as the kernel has it, for `lab topology` / `lab status`: per node its VN bridges
// with gateways and ports, its VMs and pods with every interface (NSM ones included), and the
// ports its vRouter agent holds.
import { netns } from "../../lib/kernel/index.ts";
import { UNDERLAY_CIDR, networkIdOfBridge, nodeNetns, podNetns, underlayNetns, vmNetns, vnBridge, vnVxlan } from "../dataplane/names.ts";
import { readSnapshot } from "../dataplane/snapshot.ts";
import type { DataplaneState } from "../dataplane/state.ts";
import type { NodeInfo } from "../dataplane/types.ts";
import type { PortConfigSource } from "../vrouter/portConfig.ts";
import type { PortRow } from "../vrouter/portStore.ts";
import { aliasOwner } from "../../wire/nsm/annotation.ts";

export interface IfaceDescription {
  name: string;
  mac: string;
  /** "10.1.1.3/24" */
  addresses: string[];
  /** "pod" or the VN's fq_name string. */
  network?: string;
  networkId?: number;
  /** A pod's NSM interface: the connection holding it, and the entry of the pod's NSM annotation that asked for it. */
  connection?: { id: string; annotationEntry?: number };
}

export interface DataplaneDescription {
  underlay: { netns: string; cidr: string };
  nodes: Array<{
    name: string;
    kind: "compute" | "k8s";
    netns: string;
    underlayIp: string;
    networks: Array<{
      networkId: number;
      vnUuid?: string;
      fqName?: string;
      bridge: string;
      vxlan: string;
      /** "10.1.1.254/24" */
      gateways: string[];
      /** tap names */
      ports: string[];
    }>;
    vms: Array<{ serverId: string; name?: string; netns: string; interfaces: IfaceDescription[] }>;
    pods: Array<{ name: string; netns: string; interfaces: IfaceDescription[] }>;
    /**
     * The node's vRouter agent port table: every port plugged with POST /port and not yet
     * unplugged, active (config and interface present) or not. TF's port API has no list call, so
     * this is where a leftover port shows.
     */
    vrouterPorts?: Array<{ id: string; systemName: string; active: boolean }>;
  }>;
}

export interface DescribeDeps {
  prefix: string;
  nodes: NodeInfo[];
  state: DataplaneState;
  ports: () => PortRow[];
  config: PortConfigSource;
}

export async function describeDataplane(d: DescribeDeps): Promise<DataplaneDescription> {
  const plugged = d.ports();
  const active = plugged.filter((p) => p.active !== undefined);
  const byMac = new Map(active.map((p) => [p.active!.mac, p]));
  const vnUuidOf = new Map(active.map((p) => [p.active!.networkId, p.active!.vnUuid]));
  const names = new Map<string, string | undefined>();
  const fqName = (vnUuid: string | undefined) => {
    if (vnUuid === undefined) return undefined;
    if (!names.has(vnUuid)) names.set(vnUuid, d.config.networkName?.(vnUuid));
    return names.get(vnUuid);
  };

  const interfacesOf = async (ns: string, pod: boolean): Promise<IfaceDescription[]> => {
    if (!netns.exists(ns)) return [];
    const snap = await readSnapshot(ns);
    return [...snap.links.values()]
      .filter((l) => l.ifname !== "lo")
      .map((l) => {
        const port = l.address ? byMac.get(l.address) : undefined;
        const iface: IfaceDescription = { name: l.ifname, mac: l.address ?? "", addresses: snap.addrs.get(l.ifname) ?? [] };
        const owner = pod ? aliasOwner(l.ifalias) : undefined;
        if (owner) iface.connection = { id: owner.connectionId, ...(owner.annotationEntry !== undefined ? { annotationEntry: owner.annotationEntry } : {}) };
        if (pod && l.ifname === "eth0") iface.network = "pod";
        else if (port?.active) {
          const name = fqName(port.active.vnUuid);
          if (name) iface.network = name;
          iface.networkId = port.active.networkId;
        }
        return iface;
      });
  };

  const vms = d.state.listVms();
  const pods = d.state.listPods();
  const nodes = await Promise.all(
    d.nodes.map(async (n) => {
      const ns = nodeNetns(d.prefix, n.name);
      const snap = netns.exists(ns) ? await readSnapshot(ns) : undefined;
      const links = snap ? [...snap.links.values()] : [];
      const networks = links
        .map((l) => networkIdOfBridge(l.ifname))
        .filter((id): id is number => id !== undefined)
        .sort((a, b) => a - b)
        .map((networkId) => {
          const vnUuid = vnUuidOf.get(networkId);
          const name = fqName(vnUuid);
          return {
            networkId,
            ...(vnUuid ? { vnUuid } : {}),
            ...(name ? { fqName: name } : {}),
            bridge: vnBridge(networkId),
            vxlan: vnVxlan(networkId),
            gateways: snap?.addrs.get(vnBridge(networkId)) ?? [],
            ports: links.filter((l) => l.master === vnBridge(networkId) && l.ifname !== vnVxlan(networkId)).map((l) => l.ifname).sort(),
          };
        });
      return {
        name: n.name,
        kind: n.kind,
        netns: ns,
        underlayIp: n.ip,
        networks,
        vms: await Promise.all(
          vms
            .filter((vm) => vm.node === n.name)
            .map(async (vm) => ({ serverId: vm.serverId, name: vm.name, netns: vmNetns(d.prefix, vm.serverId), interfaces: await interfacesOf(vmNetns(d.prefix, vm.serverId), false) })),
        ),
        pods: await Promise.all(
          pods
            .filter((p) => p.node === n.name)
            .map(async (p) => ({ name: p.name, netns: podNetns(d.prefix, p.name), interfaces: await interfacesOf(podNetns(d.prefix, p.name), true) })),
        ),
        vrouterPorts: plugged.filter((p) => p.node === n.name).map((p) => ({ id: p.uuid, systemName: p.systemName, active: p.active !== undefined })),
      };
    }),
  );
  return { underlay: { netns: underlayNetns(d.prefix), cidr: UNDERLAY_CIDR }, nodes };
}
