// The tungsten and kernel forwarders' elements in the daemon's own process (createNsm's
// "in-process" mode: tests that need no forwarder processes), reaching TF and the vRouter agents at
// the lab's endpoints with the same clients the forwarder processes use, the kernel forwarder's
// leases in the lab database.
import { TfClient } from "../../wire/tf.ts";
import { VrouterAgentClient } from "../../wire/vrouterAgent.ts";
import { NsmError } from "../../nsm/errors.ts";
import { ForwarderRegistry } from "../../nsm/forwarder.ts";
import type { PodPlacement } from "../../nsm/forwarders/common/clientNetns.ts";
import type { KernelOps } from "../../nsm/forwarders/common/kernelOps.ts";
import { createKernelForwarder } from "../../nsm/forwarders/kernel/index.ts";
import { createTungstenForwarder } from "../../nsm/forwarders/tungsten/index.ts";
import { interfaceNameOf, netnsOf } from "../../nsm/mechanism.ts";
import type { LabEndpoints } from "../endpoints.ts";
import type { LabInstanceConfig } from "../instance.ts";
import { labKeystone } from "../keystoneSession.ts";
import type { NsmStores } from "./store.ts";

const UNREACHABLE = "is the lab daemon running? (npx tfmesh lab up)";

export interface InProcessForwardersOptions {
  instance: Pick<LabInstanceConfig, "prefix" | "auth">;
  endpoints: Pick<LabEndpoints, "tf" | "keystone" | "agents" | "credentials">;
  kernel: KernelOps;
  stores: NsmStores;
}

export function inProcessForwarders({ instance, endpoints, kernel, stores }: InProcessForwardersOptions): ForwarderRegistry {
  const keystone = instance.auth === "keystone" ? labKeystone(endpoints) : undefined;
  const tf = new TfClient({ baseUrl: endpoints.tf, unreachableHint: UNREACHABLE, ...(keystone ? { token: () => keystone.token() } : {}) });
  const agents = new Map(Object.entries(endpoints.agents).map(([node, url]) => [node, new VrouterAgentClient({ baseUrl: url, unreachableHint: UNREACHABLE })]));
  const agentOf = (node: string) => {
    const agent = agents.get(node);
    if (!agent) throw new NsmError(400, `node "${node}" has no vRouter agent`);
    return agent;
  };
  const podNetnsPrefix = `${instance.prefix}-pod-`;
  const placement: PodPlacement = {
    nodeNetns: (node) => `${instance.prefix}-${node}`,
    allowPodNetns: (netns) => netns.startsWith(podNetnsPrefix),
    netnsExists: (netns) => kernel.netnsExists(netns),
    heldInterfaceNames: (netns, except) =>
      stores.connections
        .list()
        .filter((c) => c.id !== except && netnsOf(c.mechanism) === netns)
        .flatMap((c) => interfaceNameOf(c.mechanism) ?? []),
  };
  return new ForwarderRegistry([createTungstenForwarder({ tf, agentOf, kernel, placement }), createKernelForwarder({ kernel, ipam: stores.leases, placement })]);
}
