// The data plane as the kernel has it, for `lab topology` / `lab status`: per node its VN bridges
// with gateways and ports, its VMs and pods with every interface (NSM ones included), and the
// ports its vRouter agent holds.
import { netns } from "../../lib/kernel/index.ts";
import type { PortConfigSource } from "../vrouter/portConfig.ts";
import type { PortRow } from "../vrouter/portStore.ts";
import { UNDERLAY_CIDR, networkIdOfBridge, nodeNetns, podNetns, underlayNetns, vmNetns, vnBridge, vnVxlan } from "./names.ts";
import { readSnapshot } from "./snapshot.ts";
import type { DataplaneState } from "./state.ts";
import type { DataplaneDescription, IfaceDescription, NodeInfo } from "./types.ts";

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
