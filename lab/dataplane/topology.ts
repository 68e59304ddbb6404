// The fixed part of the lab network: an underlay switch, one namespace per node on it, and on
// k8s nodes the pod network (cni0 bridge stretched across the k8s nodes by the podvx VXLAN).
import { bridge, ensureVeth, ip, netns, sysctl } from "../../lib/kernel/index.ts";
import {
  LOCAL_RULE_PREF,
  POD_BRIDGE,
  POD_PLEN,
  POD_VNI,
  POD_VXLAN,
  POD_VXLAN_PORT,
  OVERLAY_MTU,
  UNDERLAY_BRIDGE,
  UNDERLAY_IF,
  UNDERLAY_MTU,
  UNDERLAY_PLEN,
  nodeNetns,
  podGateway,
  podMac,
  switchPort,
  underlayNetns,
} from "./names.ts";
import { isUp, readSnapshot } from "./snapshot.ts";
import type { Snapshot } from "./snapshot.ts";
import type { NodeInfo } from "./types.ts";

const ZERO_MAC = "00:00:00:00:00:00";

/** Builds what is missing of the underlay and the nodes; leaves what is there alone. */
export async function ensureTopology(prefix: string, nodes: NodeInfo[]): Promise<void> {
  const switchNs = underlayNetns(prefix);
  const created = new Set<string>();
  await Promise.all([
    netns.add(switchNs),
    ...nodes.map(async (n) => {
      if (await netns.add(nodeNetns(prefix, n.name))) created.add(n.name);
    }),
  ]);
  const readNode = (n: NodeInfo) => readSnapshot(nodeNetns(prefix, n.name), { rules: true, fdb: n.kind === "k8s" });
  const [sw, ...nodeSnaps] = await Promise.all([readSnapshot(switchNs), ...nodes.map(readNode)]);
  const lines: string[][] = [];
  if (!sw.links.has(UNDERLAY_BRIDGE)) lines.push(["link", "add", UNDERLAY_BRIDGE, "type", "bridge"]);
  if (!isUp(sw.links.get(UNDERLAY_BRIDGE))) lines.push(["link", "set", UNDERLAY_BRIDGE, "up"]);
  for (const [i, n] of nodes.entries()) {
    const port = sw.links.get(switchPort(n.name));
    if (!port || !nodeSnaps[i]!.links.has(UNDERLAY_IF)) {
      await ensureVeth(switchPort(n.name), UNDERLAY_IF, { netnsA: switchNs, netnsB: nodeNetns(prefix, n.name), mtu: UNDERLAY_MTU });
      lines.push(["link", "set", switchPort(n.name), "master", UNDERLAY_BRIDGE, "up"]);
      // A new ul0 took the VXLAN devices bound to the old one with it: read the node again.
      nodeSnaps[i] = await readNode(n);
    } else if (port.master !== UNDERLAY_BRIDGE || !isUp(port)) {
      lines.push(["link", "set", switchPort(n.name), "master", UNDERLAY_BRIDGE, "up"]);
    }
  }
  await ip.batch(lines, switchNs);
  const k8s = nodes.filter((n) => n.kind === "k8s");
  await Promise.all(nodes.map((n, i) => ensureNode(prefix, n, k8s, created.has(n.name), nodeSnaps[i]!)));
}

async function ensureNode(prefix: string, node: NodeInfo, k8sNodes: NodeInfo[], fresh: boolean, snap: Snapshot): Promise<void> {
  const ns = nodeNetns(prefix, node.name);
  if (fresh) {
    // Nothing is routed on a node except inside a VN (see vnPlumbing.ts); no redirects, no IPv6 chatter.
    await sysctl.set(
      {
        "net.ipv4.ip_forward": 0,
        "net.ipv4.conf.all.send_redirects": 0,
        "net.ipv4.conf.default.send_redirects": 0,
        "net.ipv6.conf.all.disable_ipv6": 1,
        "net.ipv6.conf.default.disable_ipv6": 1,
      },
      ns,
    );
  }
  const lines: string[][] = [];
  const ul = `${node.ip}/${UNDERLAY_PLEN}`;
  if (!(snap.addrs.get(UNDERLAY_IF) ?? []).includes(ul)) lines.push(["addr", "replace", ul, "dev", UNDERLAY_IF]);
  if (!isUp(snap.links.get(UNDERLAY_IF))) lines.push(["link", "set", UNDERLAY_IF, "up"]);
  lines.push(...localRuleLines(snap));
  if (node.kind === "k8s") lines.push(...podNetworkLines(node, k8sNodes, snap));
  await ip.batch(lines, ns);
  if (node.kind === "k8s") await bridge.batch(podFloodLines(node, k8sNodes, snap), ns);
}

/**
 * The local table is consulted before the per-VN rules unless it moves behind them; otherwise a
 * VM could reach the addresses of other VNs' gateways and the node itself (weak host model).
 */
function localRuleLines(snap: Snapshot): string[][] {
  const lines: string[][] = [];
  const isLocal = (r: { table?: string }) => r.table === "local";
  if (!snap.rules.some((r) => isLocal(r) && r.priority === LOCAL_RULE_PREF)) lines.push(["rule", "add", "pref", String(LOCAL_RULE_PREF), "lookup", "local"]);
  if (snap.rules.some((r) => isLocal(r) && r.priority === 0)) lines.push(["rule", "del", "pref", "0", "lookup", "local"]);
  return lines;
}

function k8sIndex(node: NodeInfo, k8sNodes: NodeInfo[]): number {
  return k8sNodes.findIndex((n) => n.name === node.name);
}

function podNetworkLines(node: NodeInfo, k8sNodes: NodeInfo[], snap: Snapshot): string[][] {
  const k = k8sIndex(node, k8sNodes);
  const gw = podGateway(k);
  const lines: string[][] = [];
  const br = snap.links.get(POD_BRIDGE);
  if (!br) lines.push(["link", "add", POD_BRIDGE, "type", "bridge"]);
  if (br?.address !== podMac(gw) || !isUp(br)) lines.push(["link", "set", POD_BRIDGE, "address", podMac(gw), "up"]);
  const cidr = `${gw}/${POD_PLEN}`;
  if (!(snap.addrs.get(POD_BRIDGE) ?? []).includes(cidr)) lines.push(["addr", "replace", cidr, "dev", POD_BRIDGE]);
  const vx = snap.links.get(POD_VXLAN);
  if (!vx) {
    lines.push(["link", "add", POD_VXLAN, "mtu", String(OVERLAY_MTU), "type", "vxlan", "id", String(POD_VNI), "dstport", String(POD_VXLAN_PORT), "local", node.ip, "dev", UNDERLAY_IF]);
  }
  if (vx?.master !== POD_BRIDGE || !isUp(vx)) lines.push(["link", "set", POD_VXLAN, "master", POD_BRIDGE, "up"]);
  return lines;
}

/** Broadcast and unknown traffic of the pod network goes to every other k8s node (head-end replication). */
function podFloodLines(node: NodeInfo, k8sNodes: NodeInfo[], snap: Snapshot): string[][] {
  const want = new Set(k8sNodes.filter((n) => n.name !== node.name).map((n) => n.ip));
  const have = new Set(snap.fdb.filter((f) => f.ifname === POD_VXLAN && f.mac === ZERO_MAC && f.dst).map((f) => f.dst!));
  const lines: string[][] = [];
  for (const dst of want) if (!have.has(dst)) lines.push(["fdb", "append", ZERO_MAC, "dev", POD_VXLAN, "dst", dst]);
  for (const dst of have) if (!want.has(dst)) lines.push(["fdb", "del", ZERO_MAC, "dev", POD_VXLAN, "dst", dst]);
  return lines;
}
