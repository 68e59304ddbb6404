// The tungsten forwarder: plugs a pod straight into a TF virtual network, the way TF's own CNI plugs
// a pod's eth0, but as an extra interface requested through NSM. Read top to bottom; close runs it
// bottom to top, and a failing step undoes the ones above it. tf-objects writes what TF allocated
// (MAC, address, routes, uuids) into the connection's context; the generic elements below it (veth,
// ip context, announce) read it from there, as they read the kernel forwarder's.
import type { TfClient } from "../../../wire/tf.ts";
import { checkFqName } from "../../../lib/validate/fqname.ts";
import type { NetworkService } from "../../../wire/nsm/api.ts";
import { tapName } from "../../../wire/vrouterAgent.ts";
import { forwarder } from "../../forwarder.ts";
import type { Forwarder } from "../../forwarder.ts";
import { announce } from "../common/announce.ts";
import { clientNetns } from "../common/clientNetns.ts";
import type { PodPlacement } from "../common/clientNetns.ts";
import { ipContext } from "../common/ipContext.ts";
import type { KernelOps } from "../common/kernelOps.ts";
import { podVeth } from "../common/podVeth.ts";
import { vmiOf } from "./context.ts";
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
  return forwarder(
    TUNGSTEN,
    [
      clientNetns("tungsten/client-netns", deps.placement),
      tfObjects(deps.tf),
      podVeth("tungsten/veth", deps.kernel, deps.placement, { hostName: (c) => hostEnd(vmiOf(c)) }),
      // Announces once the port and the address below it are done.
      announce("tungsten/announce", deps.kernel),
      // Plugs the port while the address is set in the pod (neither needs the other).
      vrouterPort(deps.agentOf),
      ipContext("tungsten/ip-context", deps.kernel),
    ],
    checkTungstenService,
  );
}

/** The host end is the port's tap, named after the VMI tf-objects found or made. */
const hostEnd = (vmi: string | undefined) => (vmi ? tapName(vmi) : undefined);

export function checkTungstenService(service: NetworkService): string | undefined {
  const vn = service.tungsten?.virtual_network;
  if (vn === undefined) return `tungsten.virtual_network is required (the TF virtual network, e.g. "default-domain:admin:red")`;
  const problem = checkFqName(vn, { length: 3 });
  return problem ? `tungsten.virtual_network: ${problem}` : undefined;
}
