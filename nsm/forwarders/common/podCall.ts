// What every forwarder element sees: the manager's call plus where the client's interface lives.
// A forwarder's own elements add their state (TF objects, an address lease) to it as it flows.
import type { Connection } from "../../../wire/nsm/api.ts";
import { MechanismParam } from "../../../wire/nsm/api.ts";
import type { Next } from "../../chain.ts";
import { NsmError } from "../../errors.ts";
import type { Forwarder, ForwarderCall } from "../../forwarder.ts";
import { interfaceNameOf, netnsOf } from "../../mechanism.ts";

export interface PodCall extends ForwarderCall {
  /** The client pod's network namespace. */
  podNetns: string;
  /** The client node's network namespace (where host ends and bridges live). */
  nodeNetns: string;
}

export interface PodPlacement {
  /** The netns of a node: "<prefix>-<node>" in the lab. */
  nodeNetns(node: string): string;
  /** Whether a client netns may be touched by this forwarder (the lab allows only its own pods). */
  allowPodNetns?(netns: string): boolean;
  /** Whether the netns exists; a request for a missing pod is refused before anything is built. */
  netnsExists?(netns: string): boolean;
}

export function podCall(call: ForwarderCall, placement: PodPlacement, op: "request" | "close" = "request"): PodCall {
  const podNetns = netnsOf(call.connection.mechanism);
  if (!podNetns) throw new NsmError(400, `connection ${call.connection.id}: no client netns in the kernel mechanism`);
  if (placement.allowPodNetns && !placement.allowPodNetns(podNetns)) {
    throw new NsmError(400, `connection ${call.connection.id}: netns "${podNetns}" is not a pod of this cluster`);
  }
  if (op === "request" && placement.netnsExists && !placement.netnsExists(podNetns)) {
    throw new NsmError(400, `connection ${call.connection.id}: the client netns "${podNetns}" does not exist`);
  }
  return { ...call, podNetns, nodeNetns: placement.nodeNetns(call.node) };
}

/** The alias both ends of a connection's veth carry: finds them again after a restart. */
export const connectionAlias = (connectionId: string): string => `nsm:${connectionId}`;

/** The requested (or, once chosen, the established) interface name. */
export const requestedInterface = (c: Connection): string | undefined => interfaceNameOf(c.mechanism);

/** The MTU the client asked for in the kernel mechanism, if any. */
export function requestedMtu(c: Connection): number | undefined {
  const v = c.mechanism?.parameters?.[MechanismParam.mtu];
  return v ? Number(v) : undefined;
}

export function withInterfaceName(c: Connection, name: string): Connection {
  return { ...c, mechanism: { ...c.mechanism!, parameters: { ...c.mechanism?.parameters, [MechanismParam.name]: name } } };
}

/** A Forwarder whose request and close run `pipeline` over a PodCall-derived input. */
export function forwarderOf<T extends PodCall>(
  type: string,
  pipeline: Next<T>,
  toCall: (call: ForwarderCall, op: "request" | "close") => T,
  checkService?: Forwarder["checkService"],
): Forwarder {
  return {
    type,
    ...(checkService ? { checkService } : {}),
    request: async (call) => (await pipeline.request(toCall(call, "request"))).connection,
    close: (call) => pipeline.close(toCall(call, "close")),
  };
}
