// Per node, per VN: the bridge vn<id> carrying the distributed gateway, the VXLAN vx<id> to the
// other nodes, and a routing table of its own. Traffic entering vn<id> is looked up only in that
// table (rule "iif vn<id>"), which holds the VN's subnets, its gateway addresses and an
// unreachable default: the gateway answers and routes inside its VN, and nothing leaves the VN
// (there is no VRF device in this kernel, so policy routing plays its part). Replies the gateway
// itself sends pick the table by their source address (rule "from <gateway>").
import { formatIpv4, net, parseIpv4 } from "../../lib/ipv4.ts";
import {
  GATEWAY_MAC,
  OVERLAY_MTU,
  UNDERLAY_IF,
  VN_GATEWAY_RULE_PREF,
  VN_IIF_RULE_PREF,
  VN_TABLE_BASE,
  VN_VXLAN_PORT,
  networkIdOfBridge,
  vnBridge,
  vnTable,
  vnVxlan,
} from "./names.ts";
import { isUp, kindOf } from "./snapshot.ts";
import type { RouteInfo, RuleInfo, Snapshot } from "./snapshot.ts";

export interface Gateway {
  ip: string;
  prefixLength: number;
}

export interface VnOnNode {
  networkId: number;
  gateways: Gateway[];
  /** Local port interfaces (tap...) to attach to vn<id>. */
  taps: string[];
}

export interface PlumbingPlan {
  ip: string[][];
  bridge: string[][];
  /** Bridges this plan creates (they need their forwarding sysctl once they exist). */
  createdBridges: string[];
  /** VXLAN devices this plan creates or makes anew: whatever fdb entries they had are gone. */
  createdVxlans: string[];
}

const subnetOf = (g: Gateway) => `${formatIpv4(net(parseIpv4(g.ip), g.prefixLength).network)}/${g.prefixLength}`;

interface WantedRoute {
  type: "unicast" | "local" | "unreachable";
  dst: string;
  dev?: string;
}

const routeKey = (r: { type?: string; dst: string; dev?: string }) => `${r.type ?? "unicast"} ${r.dst} ${r.dev ?? ""}`;
const routeLine = (verb: "replace" | "del", r: { type?: string; dst: string; dev?: string }, table: number) => [
  "route",
  verb,
  ...(r.type && r.type !== "unicast" ? [r.type] : []),
  r.dst,
  ...(r.dev ? ["dev", r.dev] : []),
  "table",
  String(table),
];

const ruleKey = (r: { priority: number; iif?: string; src?: string }) => `${r.priority} ${r.iif ?? ""} ${r.src && r.src !== "all" ? r.src : ""}`;
const ruleLine = (verb: "add" | "del", r: { priority: number; iif?: string; src?: string }, table: number) => [
  "rule",
  verb,
  "pref",
  String(r.priority),
  ...(r.iif ? ["iif", r.iif] : []),
  ...(r.src && r.src !== "all" ? ["from", r.src] : []),
  "lookup",
  String(table),
];

const tableOf = (x: { table?: string }) => (x.table !== undefined && /^\d+$/.test(x.table) ? Number(x.table) : undefined);
const isVnTable = (t: number | undefined) => t !== undefined && t > VN_TABLE_BASE;

/** The commands that turn the node's VN plumbing (as in `snap`) into `wanted`, removing VNs not wanted. */
export function planPlumbing(snap: Snapshot, localIp: string, wanted: VnOnNode[]): PlumbingPlan {
  const plan: PlumbingPlan = { ip: [], bridge: [], createdBridges: [], createdVxlans: [] };
  const wantedIds = new Set(wanted.map((v) => v.networkId));
  const wantedTaps = new Map(wanted.flatMap((v) => v.taps.map((t) => [t, vnBridge(v.networkId)] as const)));

  // VNs that no longer have a port here: routes and rules first (dev-less ones would outlive the links).
  const staleIds = [...snap.links.values()]
    .filter((l) => kindOf(l) === "bridge")
    .map((l) => networkIdOfBridge(l.ifname))
    .filter((id): id is number => id !== undefined && !wantedIds.has(id));
  const staleTables = new Set<number>(staleIds.map(vnTable));
  for (const r of snap.rules) {
    const t = tableOf(r);
    if (isVnTable(t) && !wantedIds.has(t! - VN_TABLE_BASE)) staleTables.add(t!);
  }
  for (const r of snap.routes) {
    const t = tableOf(r);
    if (isVnTable(t) && !wantedIds.has(t! - VN_TABLE_BASE)) staleTables.add(t!);
  }
  for (const t of staleTables) {
    for (const r of snap.rules.filter((x) => tableOf(x) === t)) plan.ip.push(ruleLine("del", r, t));
    for (const r of snap.routes.filter((x) => tableOf(x) === t)) plan.ip.push(routeLine("del", r, t));
  }
  for (const id of staleIds) plan.ip.push(["link", "del", vnBridge(id)]);
  for (const l of snap.links.values()) {
    const id = /^vx(\d+)$/.exec(l.ifname)?.[1];
    if (id !== undefined && kindOf(l) === "vxlan" && !wantedIds.has(Number(id))) plan.ip.push(["link", "del", l.ifname]);
  }
  // Ports still enslaved to a VN bridge they no longer belong to.
  for (const l of snap.links.values()) {
    const masterId = l.master === undefined ? undefined : networkIdOfBridge(l.master);
    if (masterId === undefined || l.ifname === vnVxlan(masterId) || wantedTaps.has(l.ifname) || staleIds.includes(masterId)) continue;
    plan.ip.push(["link", "set", l.ifname, "nomaster"]);
  }

  for (const vn of wanted) planVn(snap, localIp, vn, plan);
  return plan;
}

function planVn(snap: Snapshot, localIp: string, vn: VnOnNode, plan: PlumbingPlan): void {
  const id = vn.networkId;
  const br = vnBridge(id);
  const vx = vnVxlan(id);
  const table = vnTable(id);
  const brLink = snap.links.get(br);
  if (!brLink) {
    plan.ip.push(["link", "add", br, "type", "bridge"]);
    plan.createdBridges.push(br);
  }
  if (brLink?.address !== GATEWAY_MAC || !isUp(brLink)) plan.ip.push(["link", "set", br, "address", GATEWAY_MAC, "up"]);

  const wantAddrs = new Set(vn.gateways.map((g) => `${g.ip}/${g.prefixLength}`));
  const haveAddrs = new Set(brLink ? (snap.addrs.get(br) ?? []) : []);
  for (const a of wantAddrs) if (!haveAddrs.has(a)) plan.ip.push(["addr", "replace", a, "dev", br, "noprefixroute"]);
  for (const a of haveAddrs) if (!wantAddrs.has(a)) plan.ip.push(["addr", "del", a, "dev", br]);

  const wantRoutes: WantedRoute[] = [
    ...vn.gateways.map((g) => ({ type: "unicast" as const, dst: subnetOf(g), dev: br })),
    ...vn.gateways.map((g) => ({ type: "local" as const, dst: g.ip, dev: br })),
    { type: "unreachable", dst: "default" },
  ];
  const haveRoutes = new Map<string, RouteInfo>(snap.routes.filter((r) => tableOf(r) === table).map((r) => [routeKey(r), r]));
  const wantRouteKeys = new Set(wantRoutes.map(routeKey));
  for (const [k, r] of haveRoutes) if (!wantRouteKeys.has(k)) plan.ip.push(routeLine("del", r, table));

  const wantRules = [{ priority: VN_IIF_RULE_PREF, iif: br }, ...vn.gateways.map((g) => ({ priority: VN_GATEWAY_RULE_PREF, src: g.ip }))];
  const haveRules = new Map<string, RuleInfo>(snap.rules.filter((r) => tableOf(r) === table).map((r) => [ruleKey(r), r]));
  const wantRuleKeys = new Set(wantRules.map(ruleKey));
  for (const [k, r] of haveRules) if (!wantRuleKeys.has(k)) plan.ip.push(ruleLine("del", r, table));
  for (const r of wantRules) if (!haveRules.has(ruleKey(r))) plan.ip.push(ruleLine("add", r, table));

  const vxLink = snap.links.get(vx);
  const data = vxLink?.linkinfo?.info_data as { id?: number; local?: string; port?: number } | undefined;
  const vxWrong = vxLink !== undefined && (kindOf(vxLink) !== "vxlan" || data?.id !== id || data?.local !== localIp || data?.port !== VN_VXLAN_PORT);
  if (vxWrong) plan.ip.push(["link", "del", vx]);
  const vxNew = !vxLink || vxWrong;
  if (vxNew) {
    plan.createdVxlans.push(vx);
    plan.ip.push(["link", "add", vx, "mtu", String(OVERLAY_MTU), "type", "vxlan", "id", String(id), "dstport", String(VN_VXLAN_PORT), "local", localIp, "dev", UNDERLAY_IF, "nolearning"]);
  }
  if (vxNew || vxLink?.master !== br || !isUp(vxLink)) plan.ip.push(["link", "set", vx, "master", br, "up"]);
  const slave = vxLink?.linkinfo?.info_slave_data as { neigh_suppress?: boolean; learning?: boolean } | undefined;
  if (vxNew || vxLink?.master !== br || slave?.neigh_suppress !== true || slave?.learning !== false) {
    // ARP for known endpoints is answered by this bridge; only the control node fills the fdb.
    plan.bridge.push(["link", "set", "dev", vx, "neigh_suppress", "on", "learning", "off"]);
  }

  for (const tap of vn.taps) {
    const l = snap.links.get(tap);
    if (l && (l.master !== br || !isUp(l))) plan.ip.push(["link", "set", tap, "master", br, "up"]);
  }

  // Routes need their device up, so they come after the link lines above.
  for (const r of wantRoutes) if (!haveRoutes.has(routeKey(r))) plan.ip.push(routeLine("replace", r, table));
}
