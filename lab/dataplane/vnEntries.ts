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
const lower = (m: string) => m.toLowerCase();

/** A VN's entries on a node: what the kernel holds (from a snapshot) or what a plan left there. */
export interface EntryState {
  /** ip -> MAC of the permanent neighbour entries on vn<id>. */
  neigh: Map<string, string>;
  /** MAC -> remote node of the VXLAN fdb entries on vx<id>. */
  tunnel: Map<string, string>;
  /** MAC -> the bridge port (tap or vx<id>) of the static fdb entries on vn<id>. */
  port: Map<string, string>;
}

export function entryStateOfSnapshot(snap: Snapshot, networkId: number): EntryState {
  const br = vnBridge(networkId);
  const vx = vnVxlan(networkId);
  return {
    neigh: new Map(snap.neigh.filter((n) => n.dev === br && (n.state ?? []).includes("PERMANENT")).map((n) => [n.dst, lower(n.lladdr ?? "")])),
    tunnel: new Map(snap.fdb.filter((f) => f.ifname === vx && f.flags.includes("self") && f.dst !== undefined && f.mac !== ZERO_MAC).map((f) => [lower(f.mac), f.dst!])),
    port: new Map(snap.fdb.filter((f) => f.master === br && f.state === "static" && f.ifname !== undefined).map((f) => [lower(f.mac), f.ifname!])),
  };
}

/** What planEntries leaves on a node for `vn`: exactly its endpoints' entries. */
export function entryStateOfWanted(vn: VnEntries): EntryState {
  const vx = vnVxlan(vn.networkId);
  return {
    neigh: new Map(vn.endpoints.map((e) => [e.ip, lower(e.mac)])),
    tunnel: new Map(vn.endpoints.flatMap((e) => (e.remoteIp !== undefined ? [[lower(e.mac), e.remoteIp] as const] : []))),
    port: new Map(vn.endpoints.flatMap((e) => (e.remoteIp !== undefined ? [[lower(e.mac), vx] as const] : e.tap !== undefined ? [[lower(e.mac), e.tap] as const] : []))),
  };
}

/**
 * The commands that make the node's neighbour and fdb entries of the given VNs match `wanted`,
 * from what the node holds (`have` per VN). VNs whose bridge goes away take their entries with
 * them, so only wanted VNs are looked at.
 */
export function planEntries(have: (networkId: number) => EntryState, wanted: VnEntries[]): EntriesPlan {
  const plan: EntriesPlan = { ip: [], bridge: [] };
  for (const vn of wanted) {
    const br = vnBridge(vn.networkId);
    const vx = vnVxlan(vn.networkId);
    const now = have(vn.networkId);
    const want = entryStateOfWanted(vn);

    for (const [ip, m] of want.neigh) if (now.neigh.get(ip) !== m) plan.ip.push(["neigh", "replace", ip, "lladdr", m, "dev", br, "nud", "permanent"]);
    for (const ip of now.neigh.keys()) if (!want.neigh.has(ip)) plan.ip.push(["neigh", "del", ip, "dev", br]);

    for (const [m, dst] of want.tunnel) if (now.tunnel.get(m) !== dst) plan.bridge.push(["fdb", "replace", m, "dev", vx, "dst", dst, "self", "permanent"]);
    for (const [m, dst] of now.tunnel) if (!want.tunnel.has(m)) plan.bridge.push(["fdb", "del", m, "dev", vx, "dst", dst, "self"]);

    for (const [m, port] of want.port) if (now.port.get(m) !== port) plan.bridge.push(["fdb", "replace", m, "dev", port, "master", "static"]);
    // Entries on ports leaving the bridge go with them (deleting them would fail once detached).
    const stays = new Set([vx, ...vn.endpoints.flatMap((e) => (e.tap ? [e.tap] : []))]);
    for (const [m, port] of now.port) if (!want.port.has(m) && stays.has(port)) plan.bridge.push(["fdb", "del", m, "dev", port, "master"]);
  }
  return plan;
}
