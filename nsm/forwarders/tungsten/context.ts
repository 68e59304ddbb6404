// What the tungsten forwarder keeps in a connection's extra_context, and the names of its TF objects.
// The MAC and address TF allocated go into ethernet_context and ip_context like any forwarder's.
import { createHash } from "node:crypto";
import type { Connection } from "../../../wire/nsm/api.ts";
import { extraOf } from "../../connection.ts";

/** The TF virtual network's fq_name string (the service record's tungsten.virtual_network, written by the manager). */
export const VIRTUAL_NETWORK = "tungsten.virtual_network";
/** Written by tungsten/tf-objects: the uuids of the VN, its project, and the connection's VM, VMI and instance-ip. */
export const VN_UUID = "tungsten.vn_uuid";
export const PROJECT_UUID = "tungsten.project_uuid";
export const VM_UUID = "tungsten.vm_uuid";
export const VMI_UUID = "tungsten.vmi_uuid";
export const IIP_UUID = "tungsten.iip_uuid";
/**
 * Written by tungsten/vrouter-port: the VMI whose port it plugged. TF forgets a VMI deleted behind
 * NSM's back, but its port stays in the agent until someone unplugs it (as in TF), so a heal that
 * rebuilds the VMI, or a close, needs this uuid to unplug the old port.
 */
export const PLUGGED_PORT = "tungsten.plugged_port";

/** The connection's VMI uuid, once tf-objects found or made it. */
export const vmiOf = (c: Connection): string | undefined => extraOf(c, VMI_UUID);

/** The name of the VM, VMI and instance-ip of a connection. Ids that would make a too-long or odd
 *  TF name are hashed. */
export function tfObjectName(connectionId: string): string {
  return /^[A-Za-z0-9._-]{1,100}$/.test(connectionId) ? `nsm-${connectionId}` : `nsm-${createHash("sha256").update(connectionId).digest("hex").slice(0, 32)}`;
}
