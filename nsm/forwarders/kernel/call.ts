// The kernel forwarder's view of a request: the pod call plus its address lease and local bridge.
import { createHash } from "node:crypto";
import type { PodCall } from "../common/podCall.ts";

export interface Lease {
  /** The client's address. */
  address: string;
  prefixLen: number;
  /** The bridge's address, first host of the CIDR. */
  gateway: string;
  /** The service's CIDR, normalized. */
  cidr: string;
}

export interface KernelCall extends PodCall {
  lease?: Lease;
}

const hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** The node-local bridge of a service: "nsk-" + a short hash of the service name. */
export const bridgeName = (service: string): string => `nsk-${hex(`service:${service}`).slice(0, 8)}`;

/** The host end of a connection's veth. */
export const hostEndName = (connectionId: string): string => `nkt${hex(`connection:${connectionId}`).slice(0, 11)}`;

/** A stable, locally administered unicast MAC per connection, so a refresh keeps the pod's MAC. */
export function podMac(connectionId: string): string {
  const h = hex(`mac:${connectionId}`);
  return ["02", ...[0, 2, 4, 6, 8].map((i) => h.slice(i, i + 2))].join(":");
}
