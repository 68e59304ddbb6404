// Instance-ip address allocation the way TF's address manager does it: from the VN's subnets,
// skipping network, broadcast, gateway and DNS addresses, top-down unless addr_from_start.
import { formatIpv4, isIpv4, parseIpv4 } from "../../lib/ipv4.ts";
import { TfError, pyList } from "./errors.ts";
import type { SubnetInfo } from "./subnets.ts";
import type { AllocationTables } from "./allocations.ts";

export interface AllocRequest {
  vnUuid: string;
  vnFqName: string[];
  subnets: SubnetInfo[];
  owner: string;
  requested?: string | undefined;
  subnetUuid?: string | undefined;
  /** Whether the instance-ip belongs to a VM port (the gateway is refused then). */
  vmPort: boolean;
}

export interface Allocation {
  address: string;
  subnet: SubnetInfo;
}

const reserved = (s: SubnetInfo, a: number) => a === s.net.network || a === s.net.broadcast || a === s.gateway || a === s.dns;

export function allocateAddress(t: AllocationTables, req: AllocRequest): Allocation {
  const vn = pyList(req.vnFqName);
  if (req.subnets.length === 0) throw new TfError(400, `Virtual-Network(${vn}) has no defined subnet(s)`);
  let candidates = req.subnets;
  if (req.subnetUuid) {
    candidates = req.subnets.filter((s) => s.uuid === req.subnetUuid);
    if (candidates.length === 0) throw new TfError(404, `Subnet id ${req.subnetUuid} not found`);
  }
  if (req.requested !== undefined) {
    if (!isIpv4(req.requested)) throw new TfError(400, `Invalid IP address: ${req.requested}`);
    const a = parseIpv4(req.requested);
    const subnet = candidates.find((s) => a >= s.net.network && a <= s.net.broadcast);
    if (!subnet) throw new TfError(400, `Requested IP address ${req.requested} is not in any subnet of Virtual-Network(${vn})`);
    if (a === subnet.gateway) {
      if (req.vmPort) throw new TfError(400, "Gateway IP cannot be used by VM port");
      return { address: req.requested, subnet };
    }
    if (reserved(subnet, a) || t.ipOwner(req.vnUuid, a) !== undefined) throw new TfError(409, "IP address already in use");
    t.recordIp(req.vnUuid, a, req.owner);
    return { address: req.requested, subnet };
  }
  for (const s of candidates) {
    for (const [start, end] of s.fromStart ? s.pools : [...s.pools].reverse()) {
      const used = t.allocatedIn(req.vnUuid, start, end);
      const step = s.fromStart ? 1 : -1;
      for (let a = s.fromStart ? start : end; s.fromStart ? a <= end : a >= start; a += step) {
        if (reserved(s, a) || used.has(a)) continue;
        t.recordIp(req.vnUuid, a, req.owner);
        return { address: formatIpv4(a), subnet: s };
      }
    }
  }
  const which = req.subnetUuid ? candidates[0]!.name : pyList(candidates.map((s) => s.name));
  throw new TfError(400, `Virtual-Network(${vn}) has exhausted subnet(${which})`);
}
