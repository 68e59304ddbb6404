// Element: a tiny IPAM over the service's `kernel.cidr`. The first host address belongs to the
// bridge (the gateway), clients get the lowest free address after it. Leases are persisted per
// service and connection, so a refresh or a restart keeps the address; close releases it.
import { formatIpv4, nthAddress } from "../../../lib/ipv4.ts";
import { cidrContains, parseCidr } from "../../../lib/validate/cidr.ts";
import type { Element } from "../../chain.ts";
import { passCloseOn, passOn } from "../../chain.ts";
import { NsmError } from "../../errors.ts";
import type { KernelCall } from "./call.ts";

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

export function ipam(store: IpamStore): Element<KernelCall> {
  return {
    name: "kernel/ipam",
    request: async (call, next) => {
      const service = call.service.name;
      const cidr = parseCidr(call.service.kernel?.cidr, "kernel.cidr");
      const gateway = formatIpv4(nthAddress(cidr, 1));
      const id = call.connection.id;
      let lease = store.find(service, id);
      const fresh = !lease || !cidrContains(cidr.cidr, lease.address);
      if (fresh) {
        if (lease) store.release(service, id);
        lease = { service, connectionId: id, address: allocate(cidr.cidr, gateway, store.list(service)) };
        store.add(lease);
      }
      const leased = { ...call, lease: { address: lease!.address, prefixLen: cidr.prefixLen, gateway, cidr: cidr.cidr } };
      return passOn(leased, next, call.refresh || !fresh ? undefined : async () => store.release(service, id));
    },
    close: (call, next) => passCloseOn(call, next, async () => store.release(call.service.name, call.connection.id)),
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
