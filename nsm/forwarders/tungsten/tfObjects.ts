// Element: the connection's TF config objects, as TF's own CNI creates them for a pod interface:
// a virtual-machine (server_type container), a VMI in the VN's project referring to the VN and the
// VM, an instance-ip (the server allocates the address), and the `virtual-router -> virtual-machine`
// ref that tells the pod's node it hosts the VM. Names derive from the connection id, so every
// step looks up by fq_name first (idempotent, and close finds them after a restart). Close and
// rollback delete all of them, in reverse.
// What TF allocated goes into the connection's context for the elements after it: the VMI MAC
// (ethernet_context), the address with the VN gateway and the routes into the VN (ip_context), the
// VN's MTU unless the client asked for one, and the objects' uuids (extra_context).
import type { FqName, TfClient, TfObject, TfRef } from "../../../wire/tf.ts";
import { formatFqName, parseFqName } from "../../../lib/validate/fqname.ts";
import { isStatus } from "../../../lib/http/client.ts";
import { cidrContains } from "../../../lib/validate/cidr.ts";
import type { Connection, Route } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { applyOrUndo, passCloseOn, passOn } from "../../chain.ts";
import { extraOf, isHeal, nodeOf, requestedMtu, srcIpOf, srcMacOf, withContext } from "../../connection.ts";
import { NsmError } from "../../errors.ts";
import { IIP_UUID, PROJECT_UUID, tfObjectName, VIRTUAL_NETWORK, VM_UUID, VMI_UUID, VN_UUID } from "./context.ts";

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

interface ObjectNames {
  vnFqName: FqName;
  vmName: string;
  vmiFqName: FqName;
  iipName: string;
}

/** The fq_names a connection's objects have (or will have). */
export function attachmentNames(c: Connection): ObjectNames {
  const vnFqName = parseFqName(extraOf(c, VIRTUAL_NETWORK), { length: 3 }, `network service "${c.network_service}": tungsten.virtual_network`);
  const name = tfObjectName(c.id);
  return { vnFqName, vmName: name, vmiFqName: [...vnFqName.slice(0, 2), name], iipName: name };
}

export function tfObjects(tf: TfClient): Element<Connection> {
  return {
    name: "tungsten/tf-objects",
    request: async (c, next) => {
      // A failed first request removes whatever carries its names; a failed heal keeps what was established.
      const undo = isHeal(c) ? undefined : () => removeObjects(tf, c);
      const built = await applyOrUndo(() => ensureObjects(tf, c), undo ?? (async () => {}));
      return passOn(built, next, undo);
    },
    close: async (c, next) => {
      // The VMI TF has now goes down the close too: a failed heal may have rebuilt and plugged it.
      const vmiNow = await tf.lookupId("virtual-machine-interface", attachmentNames(c).vmiFqName);
      await passCloseOn(vmiNow ? withContext(c, { extra_context: { [VMI_UUID]: vmiNow } }) : c, next, () => removeObjects(tf, c));
    },
  };
}

async function ensureObjects(tf: TfClient, c: Connection): Promise<Connection> {
  const names = attachmentNames(c);
  const vnName = formatFqName(names.vnFqName);
  const node = nodeOf(c);
  const heal = isHeal(c);
  // The VM needs neither the VN nor the router, so it is made while they are read.
  const [vn, routerUuid, vmUuid] = await settleAll([
    // Only the VN's own fields: its back refs name every VMI and instance-ip on it, which grows with the connections.
    tf.readByFqName<VirtualNetwork>("virtual-network", names.vnFqName, { excludeBackRefs: true, excludeChildren: true }),
    tf.lookupId("virtual-router", routerFqName(node)),
    ensureId(tf, "virtual-machine", [names.vmName], { server_type: "container", display_name: names.vmName }, heal),
  ] as const);
  if (!vn) throw new NsmError(400, `virtual network ${vnName} (of network service "${c.network_service}") does not exist in TF`);
  if (!routerUuid) throw new NsmError(400, `node "${node}" has no virtual-router in TF (${formatFqName(routerFqName(node))})`);
  const vnRef = [{ to: names.vnFqName, uuid: vn.uuid }];
  const vmiBody = {
    parent_type: "project",
    display_name: names.vmName,
    virtual_network_refs: vnRef,
    virtual_machine_refs: [{ to: [names.vmName], uuid: vmUuid }],
  };
  const iipBody = (vmiUuid: string) => ({
    instance_ip_family: "v4",
    virtual_network_refs: vnRef,
    virtual_machine_interface_refs: [{ to: names.vmiFqName, uuid: vmiUuid }],
  });
  const routerRef = () => tf.refUpdate({ operation: "ADD", type: "virtual-router", uuid: routerUuid, refType: "virtual-machine", refUuid: vmUuid });

  let vmi: TfObject;
  let iip: TfObject;
  if (heal) {
    // A heal that finds the VMI or instance-ip gone (deleted in TF behind NSM's back) rebuilds
    // them with the MAC and address the client already has: its peers keep reaching it through the
    // neighbour entries they hold, and whatever was configured with that address stays right.
    const had = establishedIdentity(c);
    vmi = await ensurePreferring(tf, "virtual-machine-interface", names.vmiFqName, vmiBody, had.mac ? { virtual_machine_interface_mac_addresses: { mac_address: [had.mac] } } : undefined);
    checkVmiNetwork(vmi, vn, names.vmiFqName);
    [iip] = await settleAll([ensurePreferring(tf, "instance-ip", [names.iipName], iipBody(vmi.uuid), had.ip ? { instance_ip_address: had.ip } : undefined), routerRef()] as const);
  } else {
    // A first request creates before it reads (its objects exist only after a crashed attempt,
    // which a 409 tells); the VMI is read for its MAC while the instance-ip is made.
    const vmiUuid = await ensureId(tf, "virtual-machine-interface", names.vmiFqName, vmiBody, false);
    [vmi, iip] = await settleAll([
      tf.read("virtual-machine-interface", vmiUuid),
      ensureId(tf, "instance-ip", [names.iipName], iipBody(vmiUuid), false).then((id) => tf.read("instance-ip", id)),
      routerRef(),
    ] as const);
    checkVmiNetwork(vmi, vn, names.vmiFqName);
  }

  const mac = (vmi.virtual_machine_interface_mac_addresses as { mac_address?: string[] } | undefined)?.mac_address?.[0];
  const ip = iip.instance_ip_address as string | undefined;
  if (!mac) throw new Error(`VMI ${vmi.uuid} has no MAC address`);
  if (!ip) throw new Error(`instance-ip ${iip.uuid} has no address`);
  const subnet = subnetOf(vn, ip, iip.subnet_uuid as string | undefined);
  if (!subnet?.subnet) throw new Error(`no subnet of ${vnName} contains ${ip}`);
  const cidrOf = (s: IpamSubnet) => `${s.subnet!.ip_prefix}/${s.subnet!.ip_prefix_len}`;
  const plen = subnet.subnet.ip_prefix_len;
  const gateway = subnet.default_gateway && subnet.default_gateway !== "0.0.0.0" ? subnet.default_gateway : undefined;
  const otherSubnets = allSubnets(vn).filter((s) => s.subnet && s !== subnet);
  const mtu = requestedMtu(c) ?? vn.virtual_network_properties?.mtu;
  return withContext(c, {
    ip_context: { src_ip_addrs: [`${ip}/${plen}`], dst_ip_addrs: gateway ? [`${gateway}/${plen}`] : [], src_routes: vnRoutes(cidrOf(subnet), otherSubnets.map(cidrOf), gateway) },
    ethernet_context: { src_mac: mac.toLowerCase() },
    extra_context: { [VN_UUID]: vn.uuid, [PROJECT_UUID]: vn.parent_uuid ?? "", [VM_UUID]: vmUuid, [VMI_UUID]: vmi.uuid, [IIP_UUID]: iip.uuid },
    ...(mtu ? { MTU: mtu } : {}),
  });
}

function checkVmiNetwork(vmi: TfObject, vn: VirtualNetwork, fq: FqName): void {
  const vmiVn = (vmi.virtual_network_refs as TfRef[] | undefined)?.[0]?.uuid;
  if (vmiVn !== vn.uuid) {
    throw new NsmError(409, `VMI ${formatFqName(fq)} is on another virtual network than ${formatFqName(vn.fq_name)}; close the connection first`);
  }
}

/** Like Promise.all, but settles every call first: nothing is still running when a failure is thrown (and rolled back). */
async function settleAll<T extends readonly unknown[]>(calls: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(calls);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * The uuid of the object named fq, created from `body` when absent. `lookFirst` (a heal, whose
 * objects exist) asks TF before creating; otherwise the create comes first and a 409 says it exists.
 */
async function ensureId(tf: TfClient, type: string, fq: FqName, body: Record<string, unknown>, lookFirst: boolean): Promise<string> {
  if (lookFirst) {
    const existing = await tf.lookupId(type, fq);
    if (existing) return existing;
  }
  try {
    return (await tf.create(type, { fq_name: fq, ...body })).uuid;
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
    const raced = await tf.lookupId(type, fq);
    if (!raced) throw err;
    return raced;
  }
}

/**
 * Routes into the VN and nowhere else (the pod's default route stays on its eth0): its own subnet
 * on-link, since the VN is one L2 segment whose ARP the vRouter answers, and the VN's other subnets
 * through the VN gateway.
 */
function vnRoutes(own: string, others: string[], gateway: string | undefined): Route[] {
  return [{ prefix: own }, ...(gateway ? others.map((prefix) => ({ prefix, nextHop: gateway })) : [])];
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

/** The MAC and address an established connection gave its client (kept in its context across heals). */
function establishedIdentity(c: Connection): { mac?: string; ip?: string } {
  const mac = srcMacOf(c);
  const ip = srcIpOf(c);
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

/** Deletes the connection's objects in reverse order of creation (each as soon as nothing refers to it); absent ones are fine. */
async function removeObjects(tf: TfClient, c: Connection): Promise<void> {
  const names = attachmentNames(c);
  const [vm, iipUuid, vmiUuid] = await settleAll([
    tf.readByFqName("virtual-machine", [names.vmName]),
    tf.lookupId("instance-ip", [names.iipName]),
    tf.lookupId("virtual-machine-interface", names.vmiFqName),
  ] as const);
  const routers = ((vm?.virtual_router_back_refs as TfRef[] | undefined) ?? []).flatMap((r) => (r.uuid ? [r.uuid] : []));
  await settleAll([
    ...routers.map((uuid) =>
      tf.refUpdate({ operation: "DELETE", type: "virtual-router", uuid, refType: "virtual-machine", refUuid: vm!.uuid }).catch((err: unknown) => {
        if (!isStatus(err, 404)) throw err;
      }),
    ),
    (async () => {
      if (iipUuid) await tf.deleteIfExists("instance-ip", iipUuid);
      if (vmiUuid) await tf.deleteIfExists("virtual-machine-interface", vmiUuid);
    })(),
  ]);
  if (vm) await tf.deleteIfExists("virtual-machine", vm.uuid);
}
