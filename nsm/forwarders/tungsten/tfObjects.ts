// Element: the connection's TF config objects, as TF's own CNI creates them for a pod interface:
// a virtual-machine (server_type container), a VMI in the VN's project referring to the VN and the
// VM, an instance-ip (the server allocates the address), and the `virtual-router -> virtual-machine`
// ref that tells the pod's node it hosts the VM. Names derive from the connection id, so every
// step looks up by fq_name first (idempotent, and close finds them after a restart). Close and
// rollback delete all of them, in reverse.
import type { FqName, TfClient, TfObject, TfRef } from "../../../wire/tf.ts";
import { formatFqName, parseFqName } from "../../../lib/validate/fqname.ts";
import { isStatus } from "../../../lib/http/client.ts";
import { cidrContains } from "../../../lib/validate/cidr.ts";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { applyOrUndo, passCloseOn, passOn } from "../../chain.ts";
import { NsmError } from "../../errors.ts";
import type { TfAttachment, TungstenCall } from "./call.ts";
import { tfObjectName } from "./call.ts";

interface IpamSubnet {
  subnet?: { ip_prefix: string; ip_prefix_len: number };
  default_gateway?: string;
  subnet_uuid?: string;
}

interface VirtualNetwork extends TfObject {
  network_ipam_refs?: Array<TfRef<{ ipam_subnets?: IpamSubnet[] }>>;
  virtual_network_properties?: { mtu?: number };
}

const routerFqName = (node: string): FqName => ["default-global-system-config", node];

/** The fq_names a connection's objects have (or will have). */
export function attachmentNames(call: TungstenCall): Pick<TfAttachment, "vnFqName" | "vmName" | "vmiFqName" | "iipName"> {
  const vn = call.service.tungsten?.virtual_network;
  const vnFqName = parseFqName(vn, { length: 3 }, `network service "${call.service.name}": tungsten.virtual_network`);
  const name = tfObjectName(call.connection.id);
  return { vnFqName, vmName: name, vmiFqName: [...vnFqName.slice(0, 2), name], iipName: name };
}

export function tfObjects(tf: TfClient): Element<TungstenCall> {
  return {
    name: "tungsten/tf-objects",
    request: async (call, next) => {
      // A failed first request removes whatever carries its names; a failed refresh keeps what was established.
      const undo = call.refresh ? undefined : () => removeObjects(tf, call);
      const built = await applyOrUndo(() => ensureObjects(tf, call), undo ?? (async () => {}));
      return passOn(built, next, undo);
    },
    close: async (call, next) => {
      const found = await locateObjects(tf, call);
      await passCloseOn(found, next, () => removeObjects(tf, call));
    },
  };
}

async function ensureObjects(tf: TfClient, call: TungstenCall): Promise<TungstenCall> {
  const names = attachmentNames(call);
  const vnName = formatFqName(names.vnFqName);
  const vn = await tf.readByFqName<VirtualNetwork>("virtual-network", names.vnFqName);
  if (!vn) throw new NsmError(400, `virtual network ${vnName} (of network service "${call.service.name}") does not exist in TF`);
  const routerUuid = await tf.lookupId("virtual-router", routerFqName(call.node));
  if (!routerUuid) throw new NsmError(400, `node "${call.node}" has no virtual-router in TF (${formatFqName(routerFqName(call.node))})`);
  const vnRef = [{ to: names.vnFqName, uuid: vn.uuid }];

  // A refresh that finds the VMI or instance-ip gone (deleted in TF behind NSM's back) rebuilds
  // them with the MAC and address the client already has: its peers keep reaching it through the
  // neighbour entries they hold, and whatever was configured with that address stays right.
  const had = call.refresh ? establishedIdentity(call.connection) : {};
  const vm = await ensure(tf, "virtual-machine", [names.vmName], { server_type: "container", display_name: names.vmName });
  const vmi = await ensurePreferring(
    tf,
    "virtual-machine-interface",
    names.vmiFqName,
    {
      parent_type: "project",
      display_name: names.vmName,
      virtual_network_refs: vnRef,
      virtual_machine_refs: [{ to: [names.vmName], uuid: vm.uuid }],
    },
    had.mac ? { virtual_machine_interface_mac_addresses: { mac_address: [had.mac] } } : undefined,
  );
  const vmiVn = (vmi.virtual_network_refs as TfRef[] | undefined)?.[0]?.uuid;
  if (vmiVn !== vn.uuid) {
    throw new NsmError(409, `VMI ${formatFqName(names.vmiFqName)} is on another virtual network than ${vnName}; close the connection first`);
  }
  const iip = await ensurePreferring(
    tf,
    "instance-ip",
    [names.iipName],
    {
      instance_ip_family: "v4",
      virtual_network_refs: vnRef,
      virtual_machine_interface_refs: [{ to: names.vmiFqName, uuid: vmi.uuid }],
    },
    had.ip ? { instance_ip_address: had.ip } : undefined,
  );
  await tf.refUpdate({ operation: "ADD", type: "virtual-router", uuid: routerUuid, refType: "virtual-machine", refUuid: vm.uuid });

  const mac = (vmi.virtual_machine_interface_mac_addresses as { mac_address?: string[] } | undefined)?.mac_address?.[0];
  const ip = iip.instance_ip_address as string | undefined;
  if (!mac) throw new Error(`VMI ${vmi.uuid} has no MAC address`);
  if (!ip) throw new Error(`instance-ip ${iip.uuid} has no address`);
  const subnet = subnetOf(vn, ip, iip.subnet_uuid as string | undefined);
  if (!subnet?.subnet) throw new Error(`no subnet of ${vnName} contains ${ip}`);
  const mtu = vn.virtual_network_properties?.mtu;
  const cidrOf = (s: IpamSubnet) => `${s.subnet!.ip_prefix}/${s.subnet!.ip_prefix_len}`;
  const otherSubnets = allSubnets(vn)
    .filter((s) => s.subnet && s !== subnet)
    .map(cidrOf);
  return {
    ...call,
    tf: {
      ...names,
      vnUuid: vn.uuid,
      projectUuid: vn.parent_uuid ?? "",
      vmUuid: vm.uuid,
      vmiUuid: vmi.uuid,
      iipUuid: iip.uuid,
      mac: mac.toLowerCase(),
      ip,
      prefixLen: subnet.subnet.ip_prefix_len,
      subnet: cidrOf(subnet),
      otherSubnets,
      ...(subnet.default_gateway ? { gateway: subnet.default_gateway } : {}),
      ...(mtu ? { mtu } : {}),
    },
  };
}

/** Reads the object named fq, creating it from `body` when absent. */
async function ensure(tf: TfClient, type: string, fq: FqName, body: Record<string, unknown>): Promise<TfObject> {
  const existing = await tf.readByFqName(type, fq);
  if (existing) return existing;
  try {
    const created = await tf.create(type, { fq_name: fq, ...body });
    return await tf.read(type, created.uuid);
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
    const raced = await tf.readByFqName(type, fq);
    if (!raced) throw err;
    return raced;
  }
}

/**
 * Like ensure, but a missing object is first asked for with `preferred` fields (the MAC or address
 * the client already has); when TF refuses them (taken meanwhile), TF chooses.
 */
async function ensurePreferring(tf: TfClient, type: string, fq: FqName, body: Record<string, unknown>, preferred: Record<string, unknown> | undefined): Promise<TfObject> {
  if (!preferred) return ensure(tf, type, fq, body);
  try {
    return await ensure(tf, type, fq, { ...body, ...preferred });
  } catch (err) {
    if (!isStatus(err, 409) && !isStatus(err, 400)) throw err;
    return ensure(tf, type, fq, body);
  }
}

/** The MAC and address an established connection gave its client (kept in its context across refreshes). */
function establishedIdentity(connection: Connection): { mac?: string; ip?: string } {
  const mac = connection.context?.ethernet_context?.src_mac;
  const ip = connection.context?.ip_context?.src_ip_addrs?.[0]?.split("/")[0];
  return { ...(mac ? { mac } : {}), ...(ip ? { ip } : {}) };
}

const allSubnets = (vn: VirtualNetwork): IpamSubnet[] => (vn.network_ipam_refs ?? []).flatMap((r) => r.attr?.ipam_subnets ?? []);

function subnetOf(vn: VirtualNetwork, ip: string, subnetUuid: string | undefined): IpamSubnet | undefined {
  const subnets = allSubnets(vn);
  return (
    (subnetUuid ? subnets.find((s) => s.subnet_uuid === subnetUuid) : undefined) ??
    subnets.find((s) => s.subnet && cidrContains(`${s.subnet.ip_prefix}/${s.subnet.ip_prefix_len}`, ip))
  );
}

/** What close needs downstream (the VMI uuid names the tap and the agent port), without creating anything. */
async function locateObjects(tf: TfClient, call: TungstenCall): Promise<TungstenCall> {
  const names = attachmentNames(call);
  const [vmUuid, vmiUuid, iipUuid] = await Promise.all([
    tf.lookupId("virtual-machine", [names.vmName]),
    tf.lookupId("virtual-machine-interface", names.vmiFqName),
    tf.lookupId("instance-ip", [names.iipName]),
  ]);
  return {
    ...call,
    tf: { ...names, vnUuid: "", projectUuid: "", ...(vmUuid ? { vmUuid } : {}), ...(vmiUuid ? { vmiUuid } : {}), ...(iipUuid ? { iipUuid } : {}) },
  };
}

/** Deletes the connection's objects in reverse order of creation; absent ones are fine. */
async function removeObjects(tf: TfClient, call: TungstenCall): Promise<void> {
  const names = attachmentNames(call);
  const vm = await tf.readByFqName("virtual-machine", [names.vmName]);
  for (const router of (vm?.virtual_router_back_refs as TfRef[] | undefined) ?? []) {
    if (!router.uuid) continue;
    await tf
      .refUpdate({ operation: "DELETE", type: "virtual-router", uuid: router.uuid, refType: "virtual-machine", refUuid: vm!.uuid })
      .catch((err: unknown) => {
        if (!isStatus(err, 404)) throw err;
      });
  }
  const iipUuid = await tf.lookupId("instance-ip", [names.iipName]);
  if (iipUuid) await tf.deleteIfExists("instance-ip", iipUuid);
  const vmiUuid = await tf.lookupId("virtual-machine-interface", names.vmiFqName);
  if (vmiUuid) await tf.deleteIfExists("virtual-machine-interface", vmiUuid);
  if (vm) await tf.deleteIfExists("virtual-machine", vm.uuid);
}
