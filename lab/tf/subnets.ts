// What TF's address manager does to a virtual network's ipam subnets on create/update: validate
// them (with TF's messages), fill default_gateway / dns_server_address / subnet_uuid, keep those
// values stable across updates, and refuse overlapping subnets.
import { randomUUID } from "node:crypto";
import { formatIpv4, isIpv4, net, overlaps, parseIpv4 } from "../../lib/ipv4.ts";
import type { Ipv4Net } from "../../lib/ipv4.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import { TfError } from "./errors.ts";

export interface IpamSubnet {
  subnet?: { ip_prefix?: string; ip_prefix_len?: number } | null;
  default_gateway?: string | null;
  dns_server_address?: string | null;
  subnet_uuid?: string | null;
  allocation_pools?: Array<{ start: string; end: string }> | null;
  addr_from_start?: boolean | null;
  [k: string]: unknown;
}

export interface VnSubnets {
  ipam_subnets?: IpamSubnet[] | null;
  [k: string]: unknown;
}

/** A usable subnet of a virtual network, as the allocator needs it. */
export interface SubnetInfo {
  uuid: string;
  name: string; // "10.1.1.0/24"
  net: Ipv4Net;
  gateway: number | undefined;
  dns: number | undefined;
  pools: Array<[number, number]>;
  fromStart: boolean;
  raw: IpamSubnet;
}

const subnetName = (s: IpamSubnet) => `${s.subnet?.ip_prefix}/${s.subnet?.ip_prefix_len}`;

/** The address TF reserves by default: gateway = last-1 (or first+1), DNS = last-2 (or first+2). */
export function defaultGateway(n: Ipv4Net, fromStart: boolean): string {
  return formatIpv4(fromStart ? n.network + 1 : n.broadcast - 1);
}
function defaultDns(n: Ipv4Net, fromStart: boolean): string {
  return formatIpv4(fromStart ? n.network + 2 : n.broadcast - 2);
}

function parseNet(s: IpamSubnet): Ipv4Net {
  const sub = s.subnet;
  if (!sub || typeof sub.ip_prefix !== "string" || !Number.isInteger(sub.ip_prefix_len)) throw new TfError(400, "Subnet type is invalid");
  if (!isIpv4(sub.ip_prefix) || (sub.ip_prefix_len as number) < 0 || (sub.ip_prefix_len as number) > 32) {
    throw new TfError(400, `Subnet type '${subnetName(s)}' is invalid`);
  }
  if ((sub.ip_prefix_len as number) > 30) {
    throw new TfError(400, `Subnet '${subnetName(s)}' is too small: it needs room for a gateway, a DNS address and hosts (at most /30)`);
  }
  return net(parseIpv4(sub.ip_prefix), sub.ip_prefix_len as number);
}

/** Subnets with a prefix (flat-subnet entries carry only a subnet_uuid and are skipped). */
function withPrefix(list: IpamSubnet[] | null | undefined): IpamSubnet[] {
  return (list ?? []).filter((s) => s && s.subnet && s.subnet.ip_prefix !== undefined);
}

/**
 * Normalizes and completes the ipam subnets of every network_ipam ref of a VN. `previous` holds the
 * current attrs (on update) so gateway, DNS address and subnet_uuid of an unchanged CIDR persist.
 */
export function completeVnSubnets(attrs: VnSubnets[], previous: VnSubnets[] = []): VnSubnets[] {
  const before = new Map<string, IpamSubnet>();
  for (const a of previous) for (const s of withPrefix(a.ipam_subnets)) before.set(subnetName(s), s);
  const nets: Array<{ name: string; n: Ipv4Net }> = [];
  const out = attrs.map((attr) => {
    const subnets = (attr.ipam_subnets ?? []).map((orig) => {
      const s: IpamSubnet = { ...orig };
      if (!s.subnet || s.subnet.ip_prefix === undefined) {
        s.subnet_uuid ??= randomUUID();
        return s;
      }
      const n = parseNet(s);
      s.subnet = { ...s.subnet, ip_prefix: formatIpv4(n.network), ip_prefix_len: n.prefixLen };
      const name = subnetName(s);
      if (s.subnet_uuid != null && !isUuid(s.subnet_uuid)) throw new TfError(400, `Invalid subnet-uuid ${s.subnet_uuid} in subnet:${name}`);
      for (const pool of s.allocation_pools ?? []) {
        if (!isIpv4(pool?.start) || !isIpv4(pool?.end) || parseIpv4(pool.end) < parseIpv4(pool.start)) {
          throw new TfError(400, `Invalid allocation Pool start:${pool?.start}, end:${pool?.end} in subnet:${name}`);
        }
        if (parseIpv4(pool.start) < n.network || parseIpv4(pool.end) > n.broadcast) {
          throw new TfError(400, `allocation pool start:${pool.start}, end:${pool.end} out of cidr:${name}`);
        }
      }
      if (s.default_gateway != null) {
        if (!isIpv4(s.default_gateway)) throw new TfError(400, `Invalid gateway Ip address:${s.default_gateway}`);
        const gw = parseIpv4(s.default_gateway);
        if (s.default_gateway !== "0.0.0.0" && (gw < n.network + 1 || gw > n.broadcast - 1)) {
          throw new TfError(400, `gateway Ip ${s.default_gateway} out of cidr: ${name}`);
        }
      }
      if (s.dns_server_address != null && !isIpv4(s.dns_server_address)) {
        throw new TfError(400, `Invalid Dns Server Ip address:${s.dns_server_address}`);
      }
      const old = before.get(name);
      if (old) {
        if (s.default_gateway != null && s.default_gateway !== old.default_gateway) {
          throw new TfError(400, `default gateway change is not allowed orig:${old.default_gateway}, new: ${s.default_gateway}`);
        }
        if (s.dns_server_address != null && s.dns_server_address !== old.dns_server_address) {
          throw new TfError(400, `dns server change is not allowed orig:${old.dns_server_address}, new: ${s.dns_server_address}`);
        }
        s.default_gateway = old.default_gateway ?? null;
        s.dns_server_address = old.dns_server_address ?? null;
        s.subnet_uuid ??= old.subnet_uuid ?? null;
        if (s.addr_from_start == null && old.addr_from_start != null) s.addr_from_start = old.addr_from_start;
      }
      const fromStart = s.addr_from_start === true;
      s.default_gateway ??= defaultGateway(n, fromStart);
      s.dns_server_address ??= defaultDns(n, fromStart);
      s.subnet_uuid ??= randomUUID();
      nets.push({ name, n });
      return s;
    });
    return { ...attr, ipam_subnets: subnets };
  });
  for (let i = 0; i < nets.length; i++) {
    for (let j = i + 1; j < nets.length; j++) {
      if (overlaps(nets[i]!.n, nets[j]!.n)) {
        throw new TfError(400, `Overlapping addresses: [IPNetwork('${nets[i]!.name}'), IPNetwork('${nets[j]!.name}')]`);
      }
    }
  }
  return out;
}

/** The usable subnets of a VN, in the order of its ipam refs and their ipam_subnets. */
export function subnetsOf(attrs: VnSubnets[]): SubnetInfo[] {
  const out: SubnetInfo[] = [];
  for (const a of attrs) {
    for (const s of withPrefix(a.ipam_subnets)) {
      const n = net(parseIpv4(s.subnet!.ip_prefix!), s.subnet!.ip_prefix_len!);
      const gw = s.default_gateway && s.default_gateway !== "0.0.0.0" ? parseIpv4(s.default_gateway) : undefined;
      const dns = s.dns_server_address && s.dns_server_address !== "0.0.0.0" ? parseIpv4(s.dns_server_address) : undefined;
      const pools: Array<[number, number]> = (s.allocation_pools ?? []).length
        ? s.allocation_pools!.map((p) => [parseIpv4(p.start), parseIpv4(p.end)])
        : [[n.network, n.broadcast]];
      out.push({ uuid: s.subnet_uuid ?? "", name: subnetName(s), net: n, gateway: gw, dns, pools, fromStart: s.addr_from_start === true, raw: s });
    }
  }
  return out;
}
