// One read of a namespace's network state (links, addresses, rules, routes, neighbours, fdb), so
// that callers can compute the difference to what they want and write only that, in one batch.
import { bridge, ip, listLinks } from "../../lib/kernel/index.ts";
import type { LinkInfo } from "../../lib/kernel/index.ts";
import type { FdbEntry } from "../../lib/kernel/bridge.ts";

export interface RuleInfo {
  priority: number;
  src?: string;
  srclen?: number;
  iif?: string;
  table?: string;
}

export interface RouteInfo {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
}

export interface NeighInfo {
  dst: string;
  dev?: string;
  lladdr?: string;
  state?: string[];
}

export interface Snapshot {
  links: Map<string, LinkInfo>;
  /** inet addresses per interface, "10.1.1.254/24". */
  addrs: Map<string, string[]>;
  rules: RuleInfo[];
  routes: RouteInfo[];
  neigh: NeighInfo[];
  fdb: FdbEntry[];
}

export interface SnapshotParts {
  rules?: boolean;
  routes?: boolean;
  neigh?: boolean;
  fdb?: boolean;
}

export async function readSnapshot(netns: string, parts: SnapshotParts = {}): Promise<Snapshot> {
  const none = Promise.resolve([]);
  const [links, addrs, rules, routes, neigh, fdb] = await Promise.all([
    listLinks(netns, { details: true }),
    ip.json<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>(["addr", "show"], netns),
    parts.rules ? ip.json<RuleInfo>(["rule", "show"], netns) : none,
    parts.routes ? ip.json<RouteInfo>(["route", "show", "table", "all"], netns) : none,
    parts.neigh ? ip.json<NeighInfo>(["neigh", "show"], netns) : none,
    parts.fdb ? bridge.json<FdbEntry>(["fdb", "show"], netns) : none,
  ]);
  return {
    links: new Map(links.map((l) => [l.ifname, l])),
    addrs: new Map(addrs.map((a) => [a.ifname, (a.addr_info ?? []).filter((x) => x.family === "inet").map((x) => `${x.local}/${x.prefixlen}`)])),
    rules: rules as RuleInfo[],
    routes: routes as RouteInfo[],
    neigh: neigh as NeighInfo[],
    fdb: (fdb as FdbEntry[]).map((f) => ({ ...f, flags: f.flags ?? [] })),
  };
}

export const isUp = (l: LinkInfo | undefined) => l !== undefined && l.flags.includes("UP");
export const kindOf = (l: LinkInfo | undefined) => l?.linkinfo?.info_kind;
