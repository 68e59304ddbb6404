// One read of a namespace's network state (links, addresses, rules, routes, neighbours, fdb), so
// that callers can compute the difference to what they want and write only that, in one batch.
import { bridge, ip } from "../../lib/kernel/index.ts";
import type { LinkInfo } from "../../lib/kernel/index.ts";
import type { FdbEntry } from "../../lib/kernel/bridge.ts";

export interface RuleInfo {
  priority: number;
  src?: string;
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

/** Reads in two processes at most: one `ip -json -batch` for everything ip knows, `bridge` for the fdb. */
export async function readSnapshot(netns: string, parts: SnapshotParts = {}): Promise<Snapshot> {
  const commands = [["addr", "show"]];
  if (parts.rules) commands.push(["rule", "show"]);
  if (parts.routes) commands.push(["route", "show", "table", "all"]);
  if (parts.neigh) commands.push(["neigh", "show"]);
  const [results, fdb] = await Promise.all([
    ip.jsonBatch(commands, netns, { details: true }),
    parts.fdb ? bridge.json<FdbEntry>(["fdb", "show"], netns) : Promise.resolve([]),
  ]);
  const take = <T>(wanted: boolean | undefined): T[] => (wanted ? (results.shift() as T[]) : []);
  const links = take<LinkInfo & { addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>(true);
  return {
    links: new Map(links.map((l) => [l.ifname, l])),
    addrs: new Map(links.map((l) => [l.ifname, (l.addr_info ?? []).filter((x) => x.family === "inet").map((x) => `${x.local}/${x.prefixlen}`)])),
    rules: take<RuleInfo>(parts.rules),
    routes: take<RouteInfo>(parts.routes),
    neigh: take<NeighInfo>(parts.neigh),
    fdb: fdb.map((f) => ({ ...f, flags: f.flags ?? [] })),
  };
}

/** What a namespace that was just created holds, without asking. */
export function emptySnapshot(): Snapshot {
  return { links: new Map(), addrs: new Map(), rules: [], routes: [], neigh: [], fdb: [] };
}

export const isUp = (l: LinkInfo | undefined) => l !== undefined && l.flags.includes("UP");
export const kindOf = (l: LinkInfo | undefined) => l?.linkinfo?.info_kind;
