// The kernel forwarder: a plain Linux interface without TF. The pod gets a veth to a bridge on its
// node, one bridge per service, addresses from the service's `kernel.cidr`. It shows what every
// forwarder is: the same chain shape and the same generic elements (veth, ip context, announce),
// fed through the connection's context by an allocator of its own (ipam instead of TF).
import { parseCidr } from "../../../lib/validate/cidr.ts";
import { ValidationError } from "../../../lib/validate/errors.ts";
import type { NetworkService } from "../../../wire/nsm/api.ts";
import { extraOf } from "../../connection.ts";
import { forwarder } from "../../forwarder.ts";
import type { Forwarder } from "../../forwarder.ts";
import { announce } from "../common/announce.ts";
import { clientNetns } from "../common/clientNetns.ts";
import type { PodPlacement } from "../common/clientNetns.ts";
import { ipContext } from "../common/ipContext.ts";
import type { KernelOps } from "../common/kernelOps.ts";
import { podVeth } from "../common/podVeth.ts";
import type { IpamStore } from "./ipam.ts";
import { ipam } from "./ipam.ts";
import { localBridge } from "./localBridge.ts";
import { hostEndName, KERNEL_BRIDGE } from "./names.ts";

export const KERNEL_FORWARDER = "kernel";

export interface KernelForwarderDeps {
  kernel: KernelOps;
  ipam: IpamStore;
  placement: PodPlacement;
}

export function createKernelForwarder(deps: KernelForwarderDeps): Forwarder {
  return forwarder(
    KERNEL_FORWARDER,
    [
      clientNetns("kernel/client-netns", deps.placement),
      ipam(deps.ipam),
      localBridge(deps.kernel, deps.placement),
      podVeth("kernel/veth", deps.kernel, deps.placement, { hostName: (c) => hostEndName(c.id), master: (c) => extraOf(c, KERNEL_BRIDGE) }),
      ipContext("kernel/ip-context", deps.kernel),
      announce("kernel/announce", deps.kernel),
    ],
    checkKernelService,
  );
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
