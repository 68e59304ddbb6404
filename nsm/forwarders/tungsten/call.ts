// The tungsten forwarder's view of a request: the pod call plus what TF told us about the
// connection's objects (filled by the tf-objects element, read by the ones after it).
import { createHash } from "node:crypto";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { FqName } from "../../../wire/tf.ts";
import type { PodCall } from "../common/podCall.ts";

export interface TfAttachment {
  vnUuid: string;
  vnFqName: FqName;
  projectUuid: string;
  vmUuid?: string;
  vmName: string;
  vmiUuid?: string;
  vmiFqName: FqName;
  iipUuid?: string;
  iipName: string;
  /** Known once request built the objects. */
  mac?: string;
  ip?: string;
  prefixLen?: number;
  /** "0.0.0.0" in TF means none. */
  gateway?: string;
  /** The VN subnet the address is in, "a.b.c.0/len". */
  subnet?: string;
  /** The VN's other subnets, reached through its gateway. */
  otherSubnets?: string[];
  mtu?: number;
}

export interface TungstenCall extends PodCall {
  tf?: TfAttachment;
}


/** The name of the VM, VMI and instance-ip of a connection. Ids that would make a too-long or odd
 *  TF name are hashed. */
export function tfObjectName(connectionId: string): string {
  return /^[A-Za-z0-9._-]{1,100}$/.test(connectionId) ? `nsm-${connectionId}` : `nsm-${createHash("sha256").update(connectionId).digest("hex").slice(0, 32)}`;
}

/** The connection's extra_context key holding the VMI uuid whose port the forwarder plugged. */
export const PLUGGED_VMI = "tungsten.vmi_uuid";

/**
 * The VMI whose port an established connection plugged. TF forgets a VMI deleted behind NSM's
 * back, but its port stays in the agent until someone unplugs it (as in TF), so a refresh that
 * rebuilds the VMI, or a close, needs this uuid to unplug the old port.
 */
export const pluggedVmi = (connection: Connection): string | undefined => connection.context?.extra_context?.[PLUGGED_VMI];
