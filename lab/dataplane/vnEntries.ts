// What the control node programs on every node hosting a VN, for every endpoint of that VN: a
// permanent neighbour entry on vn<id> (so the bridge answers ARP for it, like vRouter's proxy
// ARP) and static fdb entries: remote endpoints on vx<id> with the remote node as VXLAN
// destination, local ones on their tap.
import { vnBridge, vnVxlan } from "./names.ts";
import type { Snapshot } from "./snapshot.ts";

export interface Endpoint {
  ip: string;
  mac: string;
  /** Local endpoint: its tap on this node. */
  tap?: string;
  /** Remote endpoint: the underlay ip of its node. */
  remoteIp?: string;
}

export interface VnEntries {
  networkId: number;
  endpoints: Endpoint[];
}

export interface EntriesPlan {
  ip: string[][];
  bridge: string[][];
}

const ZERO_MAC = "00:00:00:00:00:00";

/**
 * The commands that make the node's neighbour and fdb entries of the given VNs match `wanted`.
 * VNs whose bridge goes away take their entries with them, so only wanted VNs are looked at.
 */
export function planEntries(snap: Snapshot, wanted: VnEntries[]): EntriesPlan {
  const plan: EntriesPlan = { ip: [], bridge: [] };
  for (const vn of wanted) {
    const br = vnBridge(vn.networkId);
    const vx = vnVxlan(vn.networkId);
    const mac = (m: string) => m.toLowerCase();

    const wantNeigh = new Map(vn.endpoints.map((e) => [e.ip, mac(e.mac)]));
    const haveNeigh = new Map(
      snap.neigh.filter((n) => n.dev === br && (n.state ?? []).includes("PERMANENT")).map((n) => [n.dst, (n.lladdr ?? "").toLowerCase()]),
    );
    for (const [ip, m] of wantNeigh) if (haveNeigh.get(ip) !== m) plan.ip.push(["neigh", "replace", ip, "lladdr", m, "dev", br, "nud", "permanent"]);
    for (const ip of haveNeigh.keys()) if (!wantNeigh.has(ip)) plan.ip.push(["neigh", "del", ip, "dev", br]);

    const remote = vn.endpoints.filter((e) => e.remoteIp !== undefined);
    const wantTunnel = new Map(remote.map((e) => [mac(e.mac), e.remoteIp!]));
    const haveTunnel = snap.fdb.filter((f) => f.ifname === vx && f.flags.includes("self") && f.dst !== undefined && f.mac !== ZERO_MAC);
    const haveTunnelByMac = new Map(haveTunnel.map((f) => [f.mac.toLowerCase(), f.dst!]));
    for (const [m, dst] of wantTunnel) {
      if (haveTunnelByMac.get(m) !== dst) plan.bridge.push(["fdb", "replace", m, "dev", vx, "dst", dst, "self", "permanent"]);
    }
    for (const f of haveTunnel) if (!wantTunnel.has(f.mac.toLowerCase())) plan.bridge.push(["fdb", "del", f.mac, "dev", vx, "dst", f.dst!, "self"]);

    const wantPort = new Map(vn.endpoints.map((e) => [mac(e.mac), e.remoteIp !== undefined ? vx : e.tap]).filter((x): x is [string, string] => x[1] !== undefined));
    const havePort = snap.fdb.filter((f) => f.master === br && f.state === "static" && f.ifname !== undefined);
    const havePortByMac = new Map(havePort.map((f) => [f.mac.toLowerCase(), f.ifname!]));
    for (const [m, port] of wantPort) if (havePortByMac.get(m) !== port) plan.bridge.push(["fdb", "replace", m, "dev", port, "master", "static"]);
    // Entries on ports leaving the bridge go with them (deleting them would fail once detached).
    const stays = new Set([vx, ...vn.endpoints.flatMap((e) => (e.tap ? [e.tap] : []))]);
    for (const f of havePort) {
      if (!wantPort.has(f.mac.toLowerCase()) && stays.has(f.ifname!)) plan.bridge.push(["fdb", "del", f.mac, "dev", f.ifname!, "master"]);
    }
  }
  return plan;
}
