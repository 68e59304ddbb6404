// IPv4 address math on unsigned 32-bit integers: the one place that knows how an address,
// a prefix, a network and a broadcast relate. Validation with readable errors is in lib/validate/cidr.ts.

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** True when s is a dotted-quad IPv4 address without leading zeros ("10.1.1.3"). */
export function isIpv4(s: unknown): s is string {
  if (typeof s !== "string") return false;
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => OCTET.test(p));
}

/** "10.1.1.3" -> 167837955. Throws on anything that is not a dotted-quad address. */
export function parseIpv4(s: string): number {
  if (!isIpv4(s)) throw new Error(`not an IPv4 address: ${JSON.stringify(s)}`);
  return s.split(".").reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** 167837955 -> "10.1.1.3". */
export function formatIpv4(n: number): string {
  const v = n >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/** Netmask of a prefix length as an unsigned integer (24 -> 0xffffff00). */
export function prefixMask(prefixLen: number): number {
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new Error(`bad prefix length ${prefixLen}`);
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** "255.255.255.0" form of a prefix length. */
export function prefixToNetmask(prefixLen: number): string {
  return formatIpv4(prefixMask(prefixLen));
}

export function networkOf(addr: number, prefixLen: number): number {
  return (addr & prefixMask(prefixLen)) >>> 0;
}

export function broadcastOf(addr: number, prefixLen: number): number {
  return (networkOf(addr, prefixLen) | (~prefixMask(prefixLen) >>> 0)) >>> 0;
}

/** A parsed network: integers for math, strings for display. */
export interface Ipv4Net {
  network: number;
  prefixLen: number;
  broadcast: number;
}

export function net(network: number, prefixLen: number): Ipv4Net {
  return { network: networkOf(network, prefixLen), prefixLen, broadcast: broadcastOf(network, prefixLen) };
}

/** "10.1.1.0/24" of a network. */
export function formatNet(n: Ipv4Net): string {
  return `${formatIpv4(n.network)}/${n.prefixLen}`;
}

/**
 * The n-th address of a network: 0 is the network address, 1 the first host; negative counts
 * from the broadcast address (-1 is the broadcast, -2 the last host). Throws outside the network.
 */
export function nthAddress(n: Ipv4Net, index: number): number {
  const addr = index >= 0 ? n.network + index : n.broadcast + 1 + index;
  if (addr < n.network || addr > n.broadcast) throw new Error(`address index ${index} outside ${formatNet(n)}`);
  return addr;
}

export function contains(n: Ipv4Net, addr: number): boolean {
  return addr >= n.network && addr <= n.broadcast;
}

export function overlaps(a: Ipv4Net, b: Ipv4Net): boolean {
  return a.network <= b.broadcast && b.network <= a.broadcast;
}
