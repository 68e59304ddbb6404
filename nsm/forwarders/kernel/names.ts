// The kernel forwarder's names and the keys it keeps in the connection's extra_context.
import { createHash } from "node:crypto";

/** The service's address range (the service record's kernel.cidr, written by the manager). */
export const KERNEL_CIDR = "kernel.cidr";
/** The node-local bridge the connection's host end is on (written by kernel/bridge). */
export const KERNEL_BRIDGE = "kernel.bridge";

const hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** The node-local bridge of a service: "nsk-" + a short hash of the service name. */
export const bridgeName = (service: string): string => `nsk-${hex(`service:${service}`).slice(0, 8)}`;

/** The host end of a connection's veth. */
export const hostEndName = (connectionId: string): string => `nkt${hex(`connection:${connectionId}`).slice(0, 11)}`;
