// What TF's api-server requires and computes per type, on top of the generic object store: a
// virtual network gets its network id and completed ipam subnets (and keeps both, refusing to drop
// a subnet with addresses in use), a virtual-machine-interface needs its network and gets a MAC, an
// instance-ip gets its address from its network's subnets and keeps it; deletes give ids and
// addresses back.
import { formatIpv4 } from "../../lib/ipv4.ts";
import { checkMac } from "../../lib/validate/mac.ts";
import type { AllocationTables } from "./allocations.ts";
import { TfError } from "./errors.ts";
import { allocateAddress } from "./ipAlloc.ts";
import { isObject, sameJson } from "./jsonValues.ts";
import type { ResolvedRef } from "./objectBody.ts";
import type { TypeRules } from "./objectStore.ts";
import { completeVnSubnets, subnetsOf } from "./subnets.ts";
import type { VnSubnets } from "./subnets.ts";
import type { ObjectRow, TfTables } from "./tables.ts";

const MAX_VN_ID = 2 ** 24 - 1;

/** TF's VMI MAC when none is given: 02 followed by bytes of the uuid. */
export function macFromUuid(uuid: string): string {
  return `02:${uuid.slice(0, 2)}:${uuid.slice(2, 4)}:${uuid.slice(4, 6)}:${uuid.slice(6, 8)}:${uuid.slice(9, 11)}`;
}

export class TfTypeRules implements TypeRules {
  private readonly t: TfTables;
  private readonly alloc: AllocationTables;

  constructor(tables: TfTables, allocations: AllocationTables) {
    this.t = tables;
    this.alloc = allocations;
  }

  beforeCreate(type: string, uuid: string, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void {
    if (type === "virtual-network") {
      if (props.virtual_network_network_id !== undefined) throw new TfError(403, "Cannot set the virtual network ID");
      const ipams = refs.get("network_ipam_refs");
      if (ipams) this.completeIpamRefs(ipams, []);
      const id = this.alloc.allocateVnId(uuid, MAX_VN_ID);
      if (id === undefined) throw new TfError(400, "No virtual network id left to allocate");
      props.virtual_network_network_id = id;
    } else if (type === "virtual-machine-interface") {
      if (!refs.get("virtual_network_refs")?.length) throw new TfError(400, "virtual_network_refs is required: a virtual-machine-interface must refer to a virtual network");
      const macs = (props.virtual_machine_interface_mac_addresses as { mac_address?: unknown[] } | undefined)?.mac_address;
      if (!macs || macs.length === 0) props.virtual_machine_interface_mac_addresses = { mac_address: [macFromUuid(uuid)] };
      else this.checkMacs(macs, "create");
    } else if (type === "instance-ip") {
      this.allocateInstanceIp(uuid, props, refs);
    }
  }

  beforeUpdate(row: ObjectRow, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void {
    if (row.type === "virtual-network") {
      if (props.virtual_network_network_id !== row.props.virtual_network_network_id) throw new TfError(403, "Cannot update the virtual network ID");
      const ipams = refs.get("network_ipam_refs");
      if (ipams) {
        const before = this.t.refs(row.uuid).filter((r) => r.field === "network_ipam_refs");
        this.completeIpamRefs(ipams, before.map((r) => (r.attr ?? {}) as VnSubnets));
        const remaining = new Set(subnetsOf(ipams.map((r) => (r.attr ?? {}) as VnSubnets)).map((s) => s.name));
        for (const gone of subnetsOf(before.map((r) => (r.attr ?? {}) as VnSubnets)).filter((s) => !remaining.has(s.name))) {
          const used = this.alloc.anyIpIn(row.uuid, gone.net.network, gone.net.broadcast);
          if (used !== undefined) throw new TfError(409, `Cannot Delete IP Block, IP(${formatIpv4(used)}) is in use`);
        }
      }
    } else if (row.type === "virtual-machine-interface") {
      const before = (row.props.virtual_machine_interface_mac_addresses as { mac_address?: unknown[] } | undefined)?.mac_address;
      const after = (props.virtual_machine_interface_mac_addresses as { mac_address?: unknown[] } | undefined)?.mac_address;
      if (!sameJson(before, after)) throw new TfError(400, "Cannot change the MAC address of a virtual-machine-interface");
      if (refs.has("virtual_network_refs") && !refs.get("virtual_network_refs")!.length) {
        throw new TfError(400, "virtual_network_refs is required: a virtual-machine-interface must refer to a virtual network");
      }
    } else if (row.type === "instance-ip") {
      if (props.instance_ip_address !== row.props.instance_ip_address) throw new TfError(400, "Instance IP Address can not be changed");
      if (refs.has("virtual_network_refs")) {
        const current = this.t.refs(row.uuid).filter((r) => r.field === "virtual_network_refs").map((r) => r.uuid);
        if (!sameJson(current, refs.get("virtual_network_refs")!.map((r) => r.uuid))) throw new TfError(400, "The virtual network of an instance-ip can not be changed");
      }
    }
  }

  beforeDelete(row: ObjectRow): void {
    if (row.type === "virtual-network") this.alloc.freeVnId(row.uuid);
    if (row.type === "instance-ip") this.alloc.releaseIpsOf(row.uuid);
  }

  private checkMacs(macs: unknown[], op: string): void {
    for (const m of macs) {
      const problem = checkMac(m);
      if (problem) throw new TfError(400, `Bad property in ${op}: Error validating property virtual_machine_interface_mac_addresses: ${problem}`);
    }
  }

  private completeIpamRefs(ipams: ResolvedRef[], previous: VnSubnets[]): void {
    const withAttr = ipams.filter((r) => isObject(r.attr));
    const done = completeVnSubnets(withAttr.map((r) => r.attr as VnSubnets), previous);
    withAttr.forEach((r, i) => (r.attr = done[i]));
  }

  private allocateInstanceIp(uuid: string, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void {
    const vnRef = refs.get("virtual_network_refs")?.[0];
    if (!vnRef) throw new TfError(400, "virtual_network_refs is required: the lab allocates instance-ip addresses from a virtual network");
    if (props.instance_ip_family === "v6") throw new TfError(400, "IPv6 instance-ip addresses are not supported by the lab");
    const vn = this.t.get(vnRef.uuid)!;
    const attrs = this.t.refs(vn.uuid).filter((r) => r.field === "network_ipam_refs").map((r) => (r.attr ?? {}) as VnSubnets);
    const vmPort = (refs.get("virtual_machine_interface_refs") ?? []).some((r) => this.t.refs(r.uuid).some((x) => x.field === "virtual_machine_refs"));
    const requested = props.instance_ip_address as string | undefined;
    const alloc = allocateAddress(this.alloc, {
      vnUuid: vn.uuid,
      vnFqName: vn.fq_name,
      subnets: subnetsOf(attrs),
      owner: uuid,
      requested,
      subnetUuid: props.subnet_uuid as string | undefined,
      vmPort,
    });
    props.instance_ip_address = alloc.address;
    props.instance_ip_family ??= "v4";
    props.subnet_uuid = alloc.subnet.uuid;
    props.instance_ip_subnet = { ip_prefix: alloc.subnet.raw.subnet!.ip_prefix, ip_prefix_len: alloc.subnet.raw.subnet!.ip_prefix_len };
  }
}
