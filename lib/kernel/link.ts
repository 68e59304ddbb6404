// Interfaces, addresses and routes. Every helper is idempotent where the kernel allows it:
// replace instead of add, a missing interface counts as deleted.
import { isIpv4 } from "../ipv4.ts";
import { parseCidr } from "../validate/cidr.ts";
import { checkMac } from "../validate/mac.ts";
import { assertIfName, assertNetnsName } from "../validate/names.ts";
import { ValidationError } from "../validate/errors.ts";
import { json } from "./ip.ts";
import { exists as netnsExists } from "./netns.ts";
import { isMissing, run } from "./run.ts";

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  master?: string;
  operstate?: string;
  address?: string;
  ifalias?: string;
  /** Peer name for a veth whose peer is in the same namespace. */
  link?: string;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_kind?: string; info_slave_data?: Record<string, unknown> };
}

export interface AddrInfo {
  ifname: string;
  address?: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

function mac(value: string): string {
  const problem = checkMac(value);
  if (problem) throw new ValidationError("mac", problem);
  return value.toLowerCase();
}

function ipv4(value: string, field: string): string {
  if (!isIpv4(value)) throw new ValidationError(field, `expected an IPv4 address, got ${JSON.stringify(value)}`);
  return value;
}

/** "10.1.1.3/24" with host bits allowed (an interface address). */
function addressCidr(value: string): string {
  const [addr] = value.split("/");
  parseCidr(value, "address", { strict: false });
  return `${addr}/${value.split("/")[1]}`;
}

const ALIAS = /^[A-Za-z0-9_.:/@+,=-]{1,255}$/;

function checkedAlias(alias: string): string {
  if (!ALIAS.test(alias)) throw new ValidationError("alias", `interface alias may only contain [A-Za-z0-9_.:/@+,=-], 1-255 characters; got ${JSON.stringify(alias)}`);
  return alias;
}

function checkedMtu(mtu: number): string {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new ValidationError("mtu", `MTU must be 68..65535, got ${mtu}`);
  return String(mtu);
}

// Lines for `ip -batch` (ip.batch): each is one `ip` command without the leading "ip", validated
// like the single-command helpers below (which run the same lines), so several changes to a
// namespace go in one process start without bypassing the checks.

export interface LinkSettings {
  mtu?: number;
  alias?: string;
  /** The bridge to enslave to. */
  master?: string;
  up?: boolean;
}

/** `link set dev <name> ...` lines, one per setting given (the kernel applies them in this order). */
export function linkSetLines(name: string, s: LinkSettings): string[][] {
  const set = (...args: string[]) => ["link", "set", "dev", assertIfName(name), ...args];
  return [
    ...(s.mtu !== undefined ? [set("mtu", checkedMtu(s.mtu))] : []),
    ...(s.alias !== undefined ? [set("alias", checkedAlias(s.alias))] : []),
    ...(s.master !== undefined ? [set("master", assertIfName(s.master))] : []),
    ...(s.up ? [set("up")] : []),
  ];
}

/** `link add <name> type bridge` */
export const bridgeAddLine = (name: string): string[] => ["link", "add", assertIfName(name), "type", "bridge"];

/** `addr replace|del <cidr> dev <name>`; `cidr` is an interface address ("10.1.1.3/24"). */
export function addressLine(op: "replace" | "del", name: string, cidr: string, opts: AddressOptions = {}): string[] {
  return ["addr", op, addressCidr(cidr), "dev", assertIfName(name), ...(opts.noPrefixRoute ? ["noprefixroute"] : [])];
}

export interface VethEnd {
  name: string;
  /** Created directly in this namespace (default: the namespace the batch runs in). */
  netns?: string;
  mac?: string;
  mtu?: number;
  /** Administratively up at creation. Only the first end: the peer has no peer yet when it is created. */
  up?: boolean;
}

/**
 * `link add <a> ... type veth peer name <b> ...`: one line that makes the pair with each end where
 * it belongs (a namespace other than the batch's takes its end at once, so no move is needed).
 */
export function vethAddLine(a: VethEnd, b: Omit<VethEnd, "up">): string[] {
  const side = (e: VethEnd) => [
    assertIfName(e.name),
    ...(e.netns !== undefined ? ["netns", assertNetnsName(e.netns)] : []),
    ...(e.mtu !== undefined ? ["mtu", checkedMtu(e.mtu)] : []),
    ...(e.mac !== undefined ? ["address", mac(e.mac)] : []),
  ];
  return ["link", "add", ...side(a), ...(a.up ? ["up"] : []), "type", "veth", "peer", "name", ...side(b)];
}

/** `link set dev <name> netns <ns>` (the interface goes down on the way). */
export const linkMoveLine = (name: string, to: string): string[] => ["link", "set", "dev", assertIfName(name), "netns", assertNetnsName(to)];

/** `link set dev <name> name <newName>` (the interface must be down). */
export const linkRenameLine = (name: string, newName: string): string[] => ["link", "set", "dev", assertIfName(name), "name", assertIfName(newName)];

/** `link set dev <name> address <mac>` */
export const linkMacLine = (name: string, address: string): string[] => ["link", "set", "dev", assertIfName(name), "address", mac(address)];

/** `link del dev <name>` (a veth takes its peer with it). In a batch a missing link fails the line: see `-force`. */
export const linkDelLine = (name: string): string[] => ["link", "del", "dev", assertIfName(name)];

/** `route replace|del <route>` */
export const routeLine = (op: "replace" | "del", route: RouteSpec): string[] => ["route", op, ...routeArgs(route)];

/** All links of a namespace; `details` adds linkinfo (kind, bridge port flags). */
export async function listLinks(netns?: string, opts: { details?: boolean; master?: string; type?: string } = {}): Promise<LinkInfo[]> {
  const args = [...(opts.details ? ["-details"] : []), "link", "show"];
  if (opts.master) args.push("master", assertIfName(opts.master));
  if (opts.type) args.push("type", opts.type);
  return json<LinkInfo>(args, netns);
}

export async function showLink(name: string, netns?: string, details = false): Promise<LinkInfo | undefined> {
  assertIfName(name);
  try {
    const [info] = await json<LinkInfo>([...(details ? ["-details"] : []), "link", "show", "dev", name], netns);
    return info;
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

export async function linkExists(name: string, netns?: string): Promise<boolean> {
  return (await showLink(name, netns)) !== undefined;
}

export interface VethOptions {
  netnsA?: string;
  netnsB?: string;
  mtu?: number;
  macA?: string;
  macB?: string;
}

/** Creates a veth pair with each end directly in its namespace. Fails if `a` exists (see ensureVeth). */
export async function createVeth(a: string, b: string, opts: VethOptions = {}): Promise<void> {
  assertIfName(a);
  assertIfName(b);
  const side = (name: string, ns: string | undefined, m: string | undefined) => [
    name,
    ...(ns ? ["netns", assertNetnsName(ns)] : []),
    ...(opts.mtu ? ["mtu", String(opts.mtu)] : []),
    ...(m ? ["address", mac(m)] : []),
  ];
  await run("ip", ["link", "add", ...side(a, opts.netnsA, opts.macA), "type", "veth", "peer", "name", ...side(b, opts.netnsB, opts.macB)]);
}

/**
 * Makes sure the pair exists: keeps it when both ends are there, otherwise removes a lone end and
 * creates the pair. Returns whether it created anything.
 */
export async function ensureVeth(a: string, b: string, opts: VethOptions = {}): Promise<boolean> {
  const [haveA, haveB] = await Promise.all([linkExists(a, opts.netnsA), linkExists(b, opts.netnsB)]);
  if (haveA && haveB) return false;
  if (haveA) await deleteLink(a, opts.netnsA);
  if (haveB) await deleteLink(b, opts.netnsB);
  await createVeth(a, b, opts);
  return true;
}

/** Moves an interface to another namespace (`to` undefined is not allowed: the root namespace is off-limits). */
export async function moveLink(name: string, to: string, from?: string): Promise<void> {
  assertIfName(name);
  await run("ip", ["link", "set", "dev", name, "netns", assertNetnsName(to)], { netns: from });
}

/** Renames an interface (it has to be down for that; it stays down). */
export async function renameLink(name: string, newName: string, netns?: string): Promise<void> {
  assertIfName(name);
  assertIfName(newName);
  await run("ip", ["link", "set", "dev", name, "down"], { netns });
  await run("ip", ["link", "set", "dev", name, "name", newName], { netns });
}

export async function setMac(name: string, address: string, netns?: string): Promise<void> {
  await run("ip", ["link", "set", "dev", assertIfName(name), "address", mac(address)], { netns });
}

export async function setUp(name: string, netns?: string): Promise<void> {
  await run("ip", ["link", "set", "dev", assertIfName(name), "up"], { netns });
}

export async function setDown(name: string, netns?: string): Promise<void> {
  await run("ip", ["link", "set", "dev", assertIfName(name), "down"], { netns });
}

export async function setMtu(name: string, mtu: number, netns?: string): Promise<void> {
  await run("ip", linkSetLines(name, { mtu })[0]!, { netns });
}

/** Enslaves to `master`, or frees the interface when master is undefined. */
export async function setMaster(name: string, master: string | undefined, netns?: string): Promise<void> {
  assertIfName(name);
  const args = master === undefined ? ["nomaster"] : ["master", assertIfName(master)];
  await run("ip", ["link", "set", "dev", name, ...args], { netns });
}

/** Tags an interface (e.g. with the connection id that owns it) so it can be found again. */
export async function setAlias(name: string, alias: string, netns?: string): Promise<void> {
  await run("ip", linkSetLines(name, { alias })[0]!, { netns });
}

export async function findLinkByAlias(alias: string, netns?: string): Promise<string | undefined> {
  const links = await listLinks(netns);
  return links.find((l) => l.ifalias === alias)?.ifname;
}

/** Deletes an interface (a veth takes its peer with it); a missing interface is fine. */
export async function deleteLink(name: string, netns?: string): Promise<void> {
  assertIfName(name);
  if (netns !== undefined && !netnsExists(netns)) return;
  try {
    await run("ip", ["link", "del", "dev", name], { netns });
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
}

export interface AddressOptions {
  /** Do not install the prefix route (the caller routes the subnet itself, e.g. in a VN table). */
  noPrefixRoute?: boolean;
}

/** Sets `cidr` ("10.1.1.3/24") on the interface; an existing identical address is fine. */
export async function replaceAddress(name: string, cidr: string, netns?: string, opts: AddressOptions = {}): Promise<void> {
  await run("ip", addressLine("replace", name, cidr, opts), { netns });
}

export async function deleteAddress(name: string, cidr: string, netns?: string): Promise<void> {
  const line = addressLine("del", name, cidr);
  try {
    await run("ip", line, { netns });
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
}

export async function listAddresses(netns?: string, name?: string): Promise<AddrInfo[]> {
  const args = ["addr", "show"];
  if (name) args.push("dev", assertIfName(name));
  return json<AddrInfo>(args, netns);
}

export interface RouteSpec {
  /** "default" or a CIDR. */
  dst: string;
  via?: string;
  dev?: string;
  table?: number;
  /** unicast (default), local, unreachable, prohibit, blackhole. */
  type?: "unicast" | "local" | "unreachable" | "prohibit" | "blackhole";
  src?: string;
  metric?: number;
  scope?: "link" | "host" | "global";
}

/** The `ip route` arguments after the verb; validated. */
export function routeArgs(r: RouteSpec): string[] {
  const args: string[] = [];
  if (r.type && r.type !== "unicast") args.push(r.type);
  if (r.dst === "default") args.push("default");
  else if (isIpv4(r.dst)) args.push(r.dst);
  else args.push(parseCidr(r.dst, "route destination", { strict: true }).cidr);
  if (r.via) args.push("via", ipv4(r.via, "route gateway"));
  if (r.dev) args.push("dev", assertIfName(r.dev));
  if (r.src) args.push("src", ipv4(r.src, "route source"));
  if (r.metric !== undefined) args.push("metric", String(r.metric));
  if (r.scope) args.push("scope", r.scope);
  if (r.table !== undefined) {
    if (!Number.isInteger(r.table) || r.table < 1 || r.table > 0xffffffff) throw new ValidationError("table", `route table must be a positive integer, got ${r.table}`);
    args.push("table", String(r.table));
  }
  return args;
}

export async function replaceRoute(route: RouteSpec, netns?: string): Promise<void> {
  await run("ip", routeLine("replace", route), { netns });
}

export async function deleteRoute(route: RouteSpec, netns?: string): Promise<void> {
  const line = routeLine("del", route);
  try {
    await run("ip", line, { netns });
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
}

