// CIDR and subnet validation: prefix syntax, host bits, gateway / DNS / allocation pools inside
// the subnet, and overlap between subnets. Reasons name the offending value.
import { contains, formatIpv4, formatNet, isIpv4, net, nthAddress, overlaps, parseIpv4 } from "../ipv4.ts";
import type { Ipv4Net } from "../ipv4.ts";
import { ValidationError } from "./errors.ts";

export interface ParsedCidr extends Ipv4Net {
  /** Network address as a string ("10.1.1.0"). */
  prefix: string;
  /** Normalized "10.1.1.0/24". */
  cidr: string;
}

export interface CidrOptions {
  /** Refuse "10.1.1.5/24" (host bits set) instead of normalizing it to 10.1.1.0/24. Default true. */
  strict?: boolean;
}

function parse(value: unknown, opts: CidrOptions): ParsedCidr | string {
  if (typeof value !== "string") return `expected a CIDR string such as "10.1.1.0/24", got ${JSON.stringify(value) ?? String(value)}`;
  const m = /^([^/]+)\/(\d{1,2})$/.exec(value.trim());
  if (!m) return `"${value}" is not in CIDR form a.b.c.d/len`;
  const [, addr = "", lenStr = ""] = m;
  if (!isIpv4(addr)) return `"${addr}" in "${value}" is not an IPv4 address`;
  const prefixLen = Number(lenStr);
  if (prefixLen > 32) return `prefix length ${prefixLen} in "${value}" is larger than 32`;
  const n = net(parseIpv4(addr), prefixLen);
  if ((opts.strict ?? true) && n.network !== parseIpv4(addr)) {
    return `"${value}" has host bits set; the network is ${formatNet(n)}`;
  }
  return { ...n, prefix: formatIpv4(n.network), cidr: formatNet(n) };
}

export function checkCidr(value: unknown, opts: CidrOptions = {}): string | undefined {
  const r = parse(value, opts);
  return typeof r === "string" ? r : undefined;
}

/** Parses "10.1.1.0/24"; throws ValidationError(field, reason) when it is not a valid IPv4 CIDR. */
export function parseCidr(value: unknown, field = "cidr", opts: CidrOptions = {}): ParsedCidr {
  const r = parse(value, opts);
  if (typeof r === "string") throw new ValidationError(field, r);
  return r;
}

export interface AllocationPool {
  start: string;
  end: string;
}

export interface SubnetSpec {
  cidr: string;
  /** Omitted = the server picks one; "0.0.0.0" = no gateway (TF's convention). */
  gateway?: string | null;
  dnsServer?: string | null;
  allocationPools?: AllocationPool[] | null;
}

/**
 * Checks a subnet as TF's address manager does: a valid CIDR, a gateway that is a host address
 * of the subnet, a DNS address inside it, allocation pools inside it with start <= end and not
 * overlapping each other. Returns the first problem, or undefined.
 */
export function checkSubnet(spec: SubnetSpec, opts: CidrOptions = {}): string | undefined {
  const p = parse(spec.cidr, opts);
  if (typeof p === "string") return `cidr: ${p}`;
  const hostLow = p.prefixLen >= 31 ? p.network : p.network + 1;
  const hostHigh = p.prefixLen >= 31 ? p.broadcast : p.broadcast - 1;
  if (spec.gateway != null && spec.gateway !== "0.0.0.0") {
    if (!isIpv4(spec.gateway)) return `gateway: "${spec.gateway}" is not an IPv4 address`;
    const gw = parseIpv4(spec.gateway);
    if (gw < hostLow || gw > hostHigh) return `gateway: ${spec.gateway} is not a host address of ${p.cidr}`;
  }
  if (spec.dnsServer != null && spec.dnsServer !== "0.0.0.0") {
    if (!isIpv4(spec.dnsServer)) return `dns server: "${spec.dnsServer}" is not an IPv4 address`;
    if (!contains(p, parseIpv4(spec.dnsServer))) return `dns server: ${spec.dnsServer} is outside ${p.cidr}`;
  }
  const ranges: Array<[number, number]> = [];
  for (const [i, pool] of (spec.allocationPools ?? []).entries()) {
    const where = `allocation pool ${i + 1}`;
    if (!pool || typeof pool !== "object") return `${where}: expected {start, end}`;
    if (!isIpv4(pool.start)) return `${where}: start "${pool.start}" is not an IPv4 address`;
    if (!isIpv4(pool.end)) return `${where}: end "${pool.end}" is not an IPv4 address`;
    const s = parseIpv4(pool.start);
    const e = parseIpv4(pool.end);
    if (!contains(p, s) || !contains(p, e)) return `${where}: ${pool.start}-${pool.end} is outside ${p.cidr}`;
    if (e < s) return `${where}: start ${pool.start} is after end ${pool.end}`;
    for (const [j, [os, oe]] of ranges.entries()) {
      if (s <= oe && os <= e) return `${where}: ${pool.start}-${pool.end} overlaps allocation pool ${j + 1}`;
    }
    ranges.push([s, e]);
  }
  return undefined;
}

export function validateSubnet(spec: SubnetSpec, field = "subnet", opts: CidrOptions = {}): void {
  const reason = checkSubnet(spec, opts);
  if (reason !== undefined) throw new ValidationError(field, reason);
}

/** Returns the first pair of overlapping CIDRs among `cidrs` as a reason, or undefined. */
export function checkOverlap(cidrs: string[]): string | undefined {
  const nets = cidrs.map((c) => parse(c, { strict: false }));
  for (const [i, a] of nets.entries()) {
    if (typeof a === "string") return `${cidrs[i]}: ${a}`;
    for (let j = i + 1; j < nets.length; j++) {
      const b = nets[j]!;
      if (typeof b !== "string" && overlaps(a, b)) return `${cidrs[i]} overlaps ${cidrs[j]}`;
    }
  }
  return undefined;
}

/** Whether address `ip` lies inside `cidr` (both already valid). */
export function cidrContains(cidr: string, ip: string): boolean {
  return contains(parseCidr(cidr, "cidr", { strict: false }), parseIpv4(ip));
}

/** The i-th address of a CIDR as a string (see ipv4.nthAddress; negative counts from the end). */
export function cidrAddress(cidr: string, index: number): string {
  return formatIpv4(nthAddress(parseCidr(cidr, "cidr", { strict: false }), index));
}
