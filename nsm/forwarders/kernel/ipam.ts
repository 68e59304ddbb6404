// Element: a tiny IPAM over the service's `kernel.cidr` (in the connection's extra_context). The
// first host address belongs to the bridge (the gateway), clients get the lowest free address after
// it. Leases are persisted per service and connection, so a heal or a restart keeps the address;
// close releases it. A connection that comes without a lease but with an address of the CIDR no one
// else holds (a forwarder whose leases were lost refreshing what it built before) keeps that
// address. What it allocated goes into the connection's ip_context: the client's address, the
// gateway's, and the route to the CIDR.
import { formatIpv4, nthAddress } from "../../../lib/ipv4.ts";
import { cidrContains, parseCidr } from "../../../lib/validate/cidr.ts";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { passCloseOn, passOn } from "../../chain.ts";
import { extraOf, isHeal, srcIpOf, withContext } from "../../connection.ts";
import { NsmError } from "../../errors.ts";
import { KERNEL_CIDR } from "./names.ts";

export interface IpamLease {
  service: string;
  connectionId: string;
  address: string;
}

/** Leases, kept durably (sqlite in the lab). */
export interface IpamStore {
  find(service: string, connectionId: string): IpamLease | undefined;
  list(service: string): IpamLease[];
  add(lease: IpamLease): void;
  release(service: string, connectionId: string): void;
}

export function ipam(store: IpamStore): Element<Connection> {
  return {
    name: "kernel/ipam",
    request: async (c, next) => {
      const service = c.network_service;
      const cidr = parseCidr(extraOf(c, KERNEL_CIDR), "kernel.cidr");
      const gateway = formatIpv4(nthAddress(cidr, 1));
      let lease = store.find(service, c.id);
      const fresh = !lease || !cidrContains(cidr.cidr, lease.address);
      if (!lease || fresh) {
        if (lease) store.release(service, c.id);
        const leases = store.list(service);
        const had = srcIpOf(c);
        const keep = had && had !== gateway && cidrContains(cidr.cidr, had) && !leases.some((l) => l.address === had) ? had : undefined;
        lease = { service, connectionId: c.id, address: keep ?? allocate(cidr.cidr, gateway, leases) };
        store.add(lease);
      }
      const leased = withContext(c, {
        ip_context: { src_ip_addrs: [`${lease.address}/${cidr.prefixLen}`], dst_ip_addrs: [`${gateway}/${cidr.prefixLen}`], src_routes: [{ prefix: cidr.cidr }] },
      });
      return passOn(leased, next, isHeal(c) || !fresh ? undefined : async () => store.release(service, c.id));
    },
    close: (c, next) => passCloseOn(c, next, async () => store.release(c.network_service, c.id)),
  };
}

/** The lowest host address of `cidr` that is neither the gateway nor leased. */
export function allocate(cidr: string, gateway: string, leases: IpamLease[]): string {
  const net = parseCidr(cidr, "kernel.cidr");
  const used = new Set([gateway, ...leases.map((l) => l.address)]);
  const last = net.prefixLen >= 31 ? net.broadcast : net.broadcast - 1;
  for (let a = net.network + 1; a <= last; a++) {
    const ip = formatIpv4(a);
    if (!used.has(ip)) return ip;
  }
  throw new NsmError(409, `no free address left in ${cidr}`);
}
