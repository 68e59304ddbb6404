// The tungsten forwarder: plugs a pod straight into a TF virtual network, the way TF's own CNI plugs
// a pod's eth0, but as an extra interface requested through NSM. Read top to bottom; close runs it
// bottom to top, and a failing step undoes the ones above it.
import type { TfClient } from "../../../wire/tf.ts";
import { checkFqName } from "../../../lib/validate/fqname.ts";
import type { NetworkService, Route } from "../../../wire/nsm/api.ts";
import { chain } from "../../chain.ts";
import type { Forwarder } from "../../forwarder.ts";
import { announce } from "../common/announce.ts";
import { answer } from "../common/answer.ts";
import { ipContext } from "../common/ipContext.ts";
import type { KernelOps } from "../common/kernelOps.ts";
import { forwarderOf, podCall, requestedMtu } from "../common/podCall.ts";
import type { PodPlacement } from "../common/podCall.ts";
import { podVeth } from "../common/podVeth.ts";
import type { TungstenCall } from "./call.ts";
import { PLUGGED_VMI } from "./call.ts";
import { tapName } from "../../../wire/vrouterAgent.ts";
import { tfObjects } from "./tfObjects.ts";
import type { AgentOf } from "./vrouterPort.ts";
import { vrouterPort } from "./vrouterPort.ts";

export const TUNGSTEN = "tungsten";

export interface TungstenForwarderDeps {
  tf: TfClient;
  agentOf: AgentOf;
  kernel: KernelOps;
  placement: PodPlacement;
}

export function createTungstenForwarder(deps: TungstenForwarderDeps): Forwarder {
  const pipeline = chain<TungstenCall>([
    tfObjects(deps.tf),
    podVeth("tungsten/veth", deps.kernel, (c) => ({
      ...(c.tf?.vmiUuid ? { hostName: tapName(c.tf.vmiUuid) } : {}),
      ...(c.tf?.mac ? { mac: c.tf.mac } : {}),
      ...mtuOf(c),
    })),
    vrouterPort(deps.agentOf),
    ipContext("tungsten/ip-context", deps.kernel, (c) => ({ address: `${c.tf!.ip}/${c.tf!.prefixLen}`, routes: vnRoutes(c) })),
    announce("tungsten/announce", deps.kernel, (c) => c.tf!.ip!),
    answer("tungsten/answer", (c) => ({
      ip_context: {
        src_ip_addrs: [`${c.tf!.ip}/${c.tf!.prefixLen}`],
        dst_ip_addrs: c.tf!.gateway && c.tf!.gateway !== "0.0.0.0" ? [`${c.tf!.gateway}/${c.tf!.prefixLen}`] : [],
        src_routes: vnRoutes(c),
      },
      ethernet_context: { src_mac: c.tf!.mac! },
      extra_context: { [PLUGGED_VMI]: c.tf!.vmiUuid! },
      ...(mtuOf(c).mtu ? { MTU: mtuOf(c).mtu } : {}),
    })),
  ]);
  return forwarderOf(TUNGSTEN, pipeline, (call, op) => podCall(call, deps.placement, op), checkTungstenService);
}

/**
 * Routes into the VN and nowhere else (the pod's default route stays on its eth0): its own subnet
 * on-link, since the VN is one L2 segment whose ARP the vRouter answers, and the VN's other subnets
 * through the VN gateway.
 */
function vnRoutes(c: TungstenCall): Route[] {
  const gw = c.tf!.gateway && c.tf!.gateway !== "0.0.0.0" ? c.tf!.gateway : undefined;
  return [{ prefix: c.tf!.subnet! }, ...(gw ? (c.tf!.otherSubnets ?? []).map((prefix) => ({ prefix, nextHop: gw })) : [])];
}

/** The client's MTU, else the VN's. */
function mtuOf(c: TungstenCall): { mtu?: number } {
  const mtu = requestedMtu(c.connection) ?? c.tf?.mtu;
  return mtu ? { mtu } : {};
}

export function checkTungstenService(service: NetworkService): string | undefined {
  const vn = service.tungsten?.virtual_network;
  if (vn === undefined) return `tungsten.virtual_network is required (the TF virtual network, e.g. "default-domain:admin:red")`;
  const problem = checkFqName(vn, { length: 3 });
  return problem ? `tungsten.virtual_network: ${problem}` : undefined;
}
