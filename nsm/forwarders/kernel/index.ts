// The kernel forwarder: a plain Linux interface without TF. The pod gets a veth to a bridge on its
// node, one bridge per service, addresses from the service's `kernel.cidr`. It shows the interface
// every forwarder implements: the same chain shape, other elements.
import { parseCidr } from "../../../lib/validate/cidr.ts";
import { ValidationError } from "../../../lib/validate/errors.ts";
import type { NetworkService } from "../../../wire/nsm/api.ts";
import { chain } from "../../chain.ts";
import type { Forwarder } from "../../forwarder.ts";
import { announce } from "../common/announce.ts";
import { answer } from "../common/answer.ts";
import { ipContext } from "../common/ipContext.ts";
import type { KernelOps } from "../common/kernelOps.ts";
import { forwarderOf, podCall, requestedMtu } from "../common/podCall.ts";
import type { PodPlacement } from "../common/podCall.ts";
import { podVeth } from "../common/podVeth.ts";
import type { KernelCall } from "./call.ts";
import { bridgeName, hostEndName, podMac } from "./call.ts";
import type { IpamStore } from "./ipam.ts";
import { ipam } from "./ipam.ts";
import { localBridge } from "./localBridge.ts";

export const KERNEL_FORWARDER = "kernel";

export interface KernelForwarderDeps {
  kernel: KernelOps;
  ipam: IpamStore;
  placement: PodPlacement;
}

export function createKernelForwarder(deps: KernelForwarderDeps): Forwarder {
  const pipeline = chain<KernelCall>([
    ipam(deps.ipam),
    localBridge(deps.kernel),
    podVeth("kernel/veth", deps.kernel, (c) => {
      const mtu = requestedMtu(c.connection);
      return { hostName: hostEndName(c.connection.id), mac: podMac(c.connection.id), master: bridgeName(c.service.name), ...(mtu ? { mtu } : {}) };
    }),
    ipContext("kernel/ip-context", deps.kernel, (c) => ({ address: `${c.lease!.address}/${c.lease!.prefixLen}`, routes: [{ prefix: c.lease!.cidr }] })),
    announce("kernel/announce", deps.kernel, (c) => c.lease!.address),
    answer("kernel/answer", (c) => ({
      ip_context: {
        src_ip_addrs: [`${c.lease!.address}/${c.lease!.prefixLen}`],
        dst_ip_addrs: [`${c.lease!.gateway}/${c.lease!.prefixLen}`],
        src_routes: [{ prefix: c.lease!.cidr }],
      },
      ethernet_context: { src_mac: podMac(c.connection.id) },
    })),
  ]);
  return forwarderOf(KERNEL_FORWARDER, pipeline, (call, op) => podCall(call, deps.placement, op), checkKernelService);
}

export function checkKernelService(service: NetworkService): string | undefined {
  if (service.kernel?.cidr === undefined) return `kernel.cidr is required (the addresses of the service, e.g. "10.60.0.0/24")`;
  try {
    const cidr = parseCidr(service.kernel.cidr, "kernel.cidr");
    if (cidr.prefixLen > 30 || cidr.prefixLen < 16) return `kernel.cidr: ${cidr.cidr} must be between a /16 and a /30`;
  } catch (e) {
    if (e instanceof ValidationError) return e.message;
    throw e;
  }
  return undefined;
}
