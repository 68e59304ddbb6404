// Neutron's view of the TF object database, as TF's Neutron plugin builds it: a network IS a
// virtual-network (same uuid), a subnet IS an ipam subnet of it (id = subnet_uuid), a port IS a
// virtual-machine-interface with its instance-ips. Nothing is stored twice, so what is created in
// one API shows in the other. Nova uses this module in-process for the ports of its servers.
import { randomUUID } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { cidrAddress, checkSubnet, parseCidr } from "../../lib/validate/cidr.ts";
import { checkMac } from "../../lib/validate/mac.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import type { ConfigStore, TfObject } from "../tf/configStore.ts";
import { TfError } from "../tf/errors.ts";
import { hexId, neutronFault, refsOf } from "./common.ts";

export type Json = Record<string, unknown>;

type IpamSubnet = {
  subnet?: { ip_prefix: string; ip_prefix_len: number };
  default_gateway?: string | null;
  subnet_uuid?: string;
  subnet_name?: string | null;
  enable_dhcp?: boolean | null;
  allocation_pools?: Array<{ start: string; end: string }> | null;
  dhcp_option_list?: { dhcp_option?: Array<{ dhcp_option_name: string; dhcp_option_value: string }> } | null;
  host_routes?: { route?: Array<{ prefix: string; next_hop: string }> } | null;
  created?: string;
  last_modified?: string;
};

export interface PortBinding {
  deviceId: string;
  deviceOwner: string;
  hostId: string;
}

const PROJECT_FQ = ["default-domain", "admin"];
const DEFAULT_IPAM = ["default-domain", "default-project", "default-network-ipam"];
const kv = (o: TfObject, field: string) => ((o[field] as { key_value_pair?: Array<{ key: string; value: string }> } | undefined)?.key_value_pair ?? []);
const stamp = (o: TfObject, which: "created" | "last_modified") => {
  const v = (o.id_perms as Record<string, string> | undefined)?.[which];
  return v ? `${v.slice(0, 19)}Z` : null;
};

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw neutronFault(400, "InvalidInput", `Invalid input for ${field}. Reason: '${String(v)}' is not a valid boolean value.`);
  return v;
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw neutronFault(400, "InvalidInput", `Invalid input for ${field}. Reason: '${JSON.stringify(v)}' is not a valid string.`);
  return v;
}

/** The TF properties of the network flags create and update both take (only those given). */
function networkFlags(body: Json): Json {
  const props: Json = {};
  const shared = bool(body.shared, "shared");
  if (shared !== undefined) props.is_shared = shared;
  const external = bool(body["router:external"], "router:external");
  if (external !== undefined) props.router_external = external;
  const psec = bool(body.port_security_enabled, "port_security_enabled");
  if (psec !== undefined) props.port_security_enabled = psec;
  return props;
}

export class NeutronModel {
  private readonly store: ConfigStore;
  private readonly db: DatabaseSync;
  readonly projectUuid: string;

  constructor(store: ConfigStore, db: DatabaseSync) {
    this.store = store;
    this.db = db;
    // VMs this plugin created for a port's device_id, deleted again with their last port.
    db.exec("CREATE TABLE IF NOT EXISTS os_neutron_vm (vm_uuid TEXT PRIMARY KEY)");
    this.projectUuid = store.fqNameToId("project", PROJECT_FQ);
  }

  get projectId(): string {
    return hexId(this.projectUuid);
  }

  // ---- networks --------------------------------------------------------------------------------

  networkView(vn: TfObject): Json {
    const enabled = (vn.id_perms as { enable?: boolean } | undefined)?.enable !== false;
    const tenant = hexId(String(vn.parent_uuid ?? this.projectUuid));
    const props = (vn.virtual_network_properties as { mtu?: number } | undefined) ?? {};
    return {
      id: vn.uuid,
      name: String(vn.display_name ?? vn.name),
      tenant_id: tenant,
      project_id: tenant,
      admin_state_up: enabled,
      status: enabled ? "ACTIVE" : "DOWN",
      subnets: this.subnetsOfVn(vn).map((s) => s.subnet_uuid),
      shared: vn.is_shared === true,
      "router:external": vn.router_external === true,
      port_security_enabled: vn.port_security_enabled !== false,
      mtu: props.mtu ?? 1500,
      description: (vn.id_perms as { description?: string | null } | undefined)?.description ?? "",
      availability_zones: ["nova"],
      availability_zone_hints: [],
      ipv4_address_scope: null,
      ipv6_address_scope: null,
      l2_adjacency: true,
      tags: [],
      created_at: stamp(vn, "created"),
      updated_at: stamp(vn, "last_modified"),
      revision_number: 1,
      "contrail:fq_name": vn.fq_name,
      "contrail:virtual_network_network_id": vn.virtual_network_network_id,
    };
  }

  listNetworkObjects(): TfObject[] {
    return this.store.list("virtual-network", { detail: true }) as TfObject[];
  }

  getNetwork(id: string): TfObject {
    const vn = isUuid(id) ? this.store.find("virtual-network", id) : undefined;
    if (!vn) throw neutronFault(404, "NetworkNotFound", `Network ${id} could not be found.`);
    return vn;
  }

  createNetwork(body: Json): Json {
    const name = str(body.name, "name") ?? "";
    const props: Json = { display_name: name, ...networkFlags(body) };
    const up = bool(body.admin_state_up, "admin_state_up");
    const desc = str(body.description, "description");
    props.id_perms = { enable: up ?? true, description: desc ?? null };
    if (body.mtu !== undefined) props.virtual_network_properties = { mtu: body.mtu };
    const uuid = randomUUID();
    // Neutron allows duplicate names, TF fq_names are unique: TF's plugin appends the uuid on a clash.
    const base = name || uuid;
    const fq = [...PROJECT_FQ, base];
    const taken = this.exists("virtual-network", fq);
    const vn = this.store.create("virtual-network", {
      uuid,
      fq_name: taken ? [...PROJECT_FQ, `${base}-${uuid}`] : fq,
      parent_type: "project",
      ...props,
    });
    return this.networkView(this.store.read("virtual-network", vn.uuid, { excludeBackRefs: true, excludeChildren: true }));
  }

  updateNetwork(id: string, body: Json): Json {
    const vn = this.getNetwork(id);
    const patch: Json = {};
    const name = str(body.name, "name");
    if (name !== undefined) patch.display_name = name;
    Object.assign(patch, networkFlags(body));
    const up = bool(body.admin_state_up, "admin_state_up");
    const desc = str(body.description, "description");
    if (up !== undefined || desc !== undefined) patch.id_perms = { ...(up !== undefined ? { enable: up } : {}), ...(desc !== undefined ? { description: desc } : {}) };
    this.store.update("virtual-network", vn.uuid, patch);
    return this.networkView(this.getNetwork(id));
  }

  deleteNetwork(id: string): void {
    const vn = this.store.find("virtual-network", id);
    if (!vn) throw neutronFault(404, "NetworkNotFound", `Network ${id} could not be found.`);
    if (refsOf(vn, "virtual_machine_interface_back_refs").length || refsOf(vn, "instance_ip_back_refs").length) {
      throw neutronFault(409, "NetworkInUse", `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`);
    }
    this.store.transaction(() => {
      if (refsOf(vn, "network_ipam_refs").length) this.store.update("virtual-network", id, { network_ipam_refs: [] });
      this.store.delete("virtual-network", id);
    });
  }

  // ---- subnets ---------------------------------------------------------------------------------

  private subnetsOfVn(vn: TfObject): IpamSubnet[] {
    return refsOf(vn, "network_ipam_refs").flatMap((r) => ((r.attr as { ipam_subnets?: IpamSubnet[] } | null)?.ipam_subnets ?? []).filter((s) => s.subnet));
  }

  subnetView(vn: TfObject, s: IpamSubnet): Json {
    const cidr = `${s.subnet!.ip_prefix}/${s.subnet!.ip_prefix_len}`;
    const gw = s.default_gateway && s.default_gateway !== "0.0.0.0" ? s.default_gateway : null;
    const pools = s.allocation_pools?.length
      ? s.allocation_pools.map((p) => ({ start: p.start, end: p.end }))
      : [{ start: cidrAddress(cidr, gw === cidrAddress(cidr, 1) ? 2 : 1), end: cidrAddress(cidr, -2) }];
    const tenant = hexId(String(vn.parent_uuid ?? this.projectUuid));
    const dns = (s.dhcp_option_list?.dhcp_option ?? []).filter((o) => o.dhcp_option_name === "6").flatMap((o) => o.dhcp_option_value.split(/\s+/).filter(Boolean));
    return {
      id: s.subnet_uuid,
      name: s.subnet_name ?? "",
      tenant_id: tenant,
      project_id: tenant,
      network_id: vn.uuid,
      ip_version: 4,
      cidr,
      gateway_ip: gw,
      allocation_pools: pools,
      enable_dhcp: s.enable_dhcp !== false,
      dns_nameservers: dns,
      host_routes: (s.host_routes?.route ?? []).map((r) => ({ destination: r.prefix, nexthop: r.next_hop })),
      ipv6_ra_mode: null,
      ipv6_address_mode: null,
      subnetpool_id: null,
      segment_id: null,
      service_types: [],
      shared: vn.is_shared === true,
      description: "",
      tags: [],
      created_at: s.created ?? stamp(vn, "created"),
      updated_at: s.last_modified ?? stamp(vn, "last_modified"),
      revision_number: 1,
    };
  }

  /** Every subnet of every network, with the network it belongs to. */
  listSubnets(): Array<{ vn: TfObject; subnet: IpamSubnet }> {
    return this.listNetworkObjects().flatMap((vn) => this.subnetsOfVn(vn).map((subnet) => ({ vn, subnet })));
  }

  findSubnet(id: string): { vn: TfObject; subnet: IpamSubnet } {
    const hit = this.listSubnets().find((x) => x.subnet.subnet_uuid === id);
    if (!hit) throw neutronFault(404, "SubnetNotFound", `Subnet ${id} could not be found.`);
    return hit;
  }

  createSubnet(body: Json): Json {
    const networkId = str(body.network_id, "network_id");
    if (!networkId) throw neutronFault(400, "BadRequest", "Bad subnets request: network_id is required.");
    const vn = this.getNetwork(networkId);
    const cidrIn = str(body.cidr, "cidr");
    if (!cidrIn) throw neutronFault(400, "BadRequest", "Bad subnets request: cidr is required (the lab has no subnet pools).");
    if (body.ip_version !== undefined && body.ip_version !== 4 && body.ip_version !== "4") {
      throw neutronFault(400, "InvalidInput", `Invalid input for operation: the lab supports ip_version 4 only, got ${String(body.ip_version)}.`);
    }
    const gatewayIn = body.gateway_ip;
    const pools = body.allocation_pools as Array<{ start: string; end: string }> | undefined;
    const problem = checkSubnet({ cidr: cidrIn, gateway: typeof gatewayIn === "string" ? gatewayIn : null, allocationPools: pools ?? null });
    if (problem) throw neutronFault(400, "InvalidInput", `Invalid input for operation: ${problem}.`);
    const cidr = parseCidr(cidrIn);
    if (this.subnetsOfVn(vn).some((s) => `${s.subnet!.ip_prefix}/${s.subnet!.ip_prefix_len}` === cidr.cidr)) {
      const other = this.subnetsOfVn(vn).find((s) => `${s.subnet!.ip_prefix}/${s.subnet!.ip_prefix_len}` === cidr.cidr)!;
      throw neutronFault(400, "BadRequest", `Cidr ${cidrIn} overlaps with another subnet of subnet ${other.subnet_uuid}`);
    }
    const ts = new Date().toISOString().replace(/\.\d{3}Z$/, "");
    const dns = body.dns_nameservers as string[] | undefined;
    const routes = body.host_routes as Array<{ destination: string; nexthop: string }> | undefined;
    const subnetUuid = randomUUID();
    const ipamSubnet: IpamSubnet & Json = {
      subnet: { ip_prefix: cidr.prefix, ip_prefix_len: cidr.prefixLen },
      // gateway_ip: null means "no gateway" in Neutron, which TF writes as 0.0.0.0.
      default_gateway: gatewayIn === null ? "0.0.0.0" : typeof gatewayIn === "string" ? gatewayIn : cidrAddress(cidr.cidr, 1),
      enable_dhcp: bool(body.enable_dhcp, "enable_dhcp") ?? true,
      allocation_pools: pools ?? null,
      addr_from_start: true,
      subnet_name: str(body.name, "name") ?? "",
      subnet_uuid: subnetUuid,
      dhcp_option_list: dns?.length ? { dhcp_option: [{ dhcp_option_name: "6", dhcp_option_value: dns.join(" ") }] } : null,
      host_routes: routes?.length ? { route: routes.map((r) => ({ prefix: r.destination, next_hop: r.nexthop })) } : null,
      created: ts,
      last_modified: ts,
    };
    const ipamFq = this.exists("network-ipam", [...vn.fq_name.slice(0, -1), "default-network-ipam"]) ? [...vn.fq_name.slice(0, -1), "default-network-ipam"] : DEFAULT_IPAM;
    const current = refsOf(vn, "network_ipam_refs").map((r) => ({ to: r.to, uuid: r.uuid, attr: r.attr }));
    const mine = current.find((r) => r.to.join(":") === ipamFq.join(":"));
    if (mine) {
      const attr = (mine.attr ?? {}) as { ipam_subnets?: IpamSubnet[] };
      mine.attr = { ...attr, ipam_subnets: [...(attr.ipam_subnets ?? []), ipamSubnet] };
    } else {
      current.push({ to: ipamFq, uuid: this.store.fqNameToId("network-ipam", ipamFq), attr: { ipam_subnets: [ipamSubnet] } });
    }
    this.tfToNeutron(() => this.store.update("virtual-network", vn.uuid, { network_ipam_refs: current }), "subnet");
    const created = this.findSubnet(subnetUuid);
    return this.subnetView(created.vn, created.subnet);
  }

  updateSubnet(id: string, body: Json): Json {
    const { vn } = this.findSubnet(id);
    for (const k of ["cidr", "network_id", "ip_version", "allocation_pools"]) {
      if (k in body) throw neutronFault(400, "BadRequest", `Cannot update read-only attribute ${k}`);
    }
    const current = refsOf(vn, "network_ipam_refs").map((r) => ({ to: r.to, uuid: r.uuid, attr: structuredClone(r.attr) as { ipam_subnets?: IpamSubnet[] } }));
    for (const r of current) {
      for (const s of r.attr?.ipam_subnets ?? []) {
        if (s.subnet_uuid !== id) continue;
        if (body.name !== undefined) s.subnet_name = str(body.name, "name") ?? "";
        if (body.enable_dhcp !== undefined) s.enable_dhcp = bool(body.enable_dhcp, "enable_dhcp") ?? true;
        if (body.gateway_ip !== undefined && body.gateway_ip !== s.default_gateway) {
          throw neutronFault(409, "GatewayIpInUse", `The gateway of subnet ${id} cannot be changed in TF (it is ${s.default_gateway}).`);
        }
        if (body.dns_nameservers !== undefined) {
          const dns = (body.dns_nameservers as string[] | null) ?? [];
          s.dhcp_option_list = dns.length ? { dhcp_option: [{ dhcp_option_name: "6", dhcp_option_value: dns.join(" ") }] } : null;
        }
        if (body.host_routes !== undefined) {
          const routes = (body.host_routes as Array<{ destination: string; nexthop: string }> | null) ?? [];
          s.host_routes = routes.length ? { route: routes.map((x) => ({ prefix: x.destination, next_hop: x.nexthop })) } : null;
        }
        s.last_modified = new Date().toISOString().replace(/\.\d{3}Z$/, "");
      }
    }
    this.tfToNeutron(() => this.store.update("virtual-network", vn.uuid, { network_ipam_refs: current }), "subnet");
    const hit = this.findSubnet(id);
    return this.subnetView(hit.vn, hit.subnet);
  }

  deleteSubnet(id: string): void {
    const { vn } = this.findSubnet(id);
    const current = refsOf(vn, "network_ipam_refs")
      .map((r) => ({ to: r.to, uuid: r.uuid, attr: r.attr as { ipam_subnets?: IpamSubnet[] } }))
      .map((r) => ({ ...r, attr: { ...r.attr, ipam_subnets: (r.attr?.ipam_subnets ?? []).filter((s) => s.subnet_uuid !== id) } }));
    this.tfToNeutron(
      () => this.store.update("virtual-network", vn.uuid, { network_ipam_refs: current.filter((r) => r.attr.ipam_subnets.length) }),
      "subnet",
      (e) => (e.status === 409 ? neutronFault(409, "SubnetInUse", `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`) : undefined),
    );
  }

  // ---- ports -----------------------------------------------------------------------------------

  getPortObject(id: string): TfObject {
    const vmi = isUuid(id) ? this.store.find("virtual-machine-interface", id, { excludeChildren: true }) : undefined;
    if (!vmi) throw neutronFault(404, "PortNotFound", `Port ${id} could not be found.`);
    return vmi;
  }

  listPortObjects(): TfObject[] {
    return this.store.list("virtual-machine-interface", { detail: true, fields: ["instance_ip_back_refs"] }) as TfObject[];
  }

  /** The port's addresses: [{subnet_id, ip_address}] from its instance-ips. */
  fixedIps(vmi: TfObject): Array<{ subnet_id: string; ip_address: string }> {
    return refsOf(vmi, "instance_ip_back_refs")
      .map((r) => this.store.find("instance-ip", r.uuid, { excludeBackRefs: true, excludeChildren: true }))
      .filter((iip): iip is TfObject => !!iip && typeof iip.instance_ip_address === "string")
      .map((iip) => ({ subnet_id: String(iip.subnet_uuid ?? ""), ip_address: String(iip.instance_ip_address) }));
  }

  portView(vmi: TfObject): Json {
    const binding = Object.fromEntries(kv(vmi, "virtual_machine_interface_bindings").map((e) => [e.key, e.value]));
    const deviceId = refsOf(vmi, "virtual_machine_refs")[0]?.uuid ?? "";
    const hostId = binding.host_id ?? "";
    const tenant = hexId(String(vmi.parent_type === "project" ? vmi.parent_uuid : this.projectUuid));
    const enabled = (vmi.id_perms as { enable?: boolean } | undefined)?.enable !== false;
    return {
      id: vmi.uuid,
      name: String(vmi.display_name ?? ""),
      network_id: refsOf(vmi, "virtual_network_refs")[0]?.uuid ?? "",
      tenant_id: tenant,
      project_id: tenant,
      mac_address: (vmi.virtual_machine_interface_mac_addresses as { mac_address: string[] }).mac_address[0],
      admin_state_up: enabled,
      status: deviceId && hostId && enabled ? "ACTIVE" : "DOWN",
      fixed_ips: this.fixedIps(vmi),
      device_id: deviceId,
      device_owner: String(vmi.virtual_machine_interface_device_owner ?? ""),
      "binding:host_id": hostId,
      "binding:vif_type": hostId ? (binding.vif_type ?? "vrouter") : "unbound",
      "binding:vnic_type": binding.vnic_type ?? "normal",
      "binding:vif_details": {},
      "binding:profile": {},
      security_groups: [],
      port_security_enabled: vmi.port_security_enabled !== false,
      allowed_address_pairs: [],
      extra_dhcp_opts: [],
      description: (vmi.id_perms as { description?: string | null } | undefined)?.description ?? "",
      tags: [],
      created_at: stamp(vmi, "created"),
      updated_at: stamp(vmi, "last_modified"),
      revision_number: 1,
    };
  }

  getPort(id: string): Json {
    return this.portView(this.getPortObject(id));
  }

  /** Creates the VMI and its instance-ips in one transaction; a failed address rolls everything back. */
  createPort(body: Json): TfObject {
    const networkId = str(body.network_id, "network_id");
    if (!networkId) throw neutronFault(400, "BadRequest", "Bad port request: network_id is required.");
    const vn = this.getNetwork(networkId);
    const mac = str(body.mac_address, "mac_address");
    if (mac !== undefined && checkMac(mac)) throw neutronFault(400, "InvalidInput", `Invalid input for mac_address. Reason: ${checkMac(mac)}.`);
    const fixed = body.fixed_ips as Array<{ subnet_id?: string; ip_address?: string }> | undefined;
    if (fixed !== undefined && !Array.isArray(fixed)) throw neutronFault(400, "InvalidInput", "Invalid input for fixed_ips. Reason: must be a list.");
    const up = bool(body.admin_state_up, "admin_state_up");
    const psec = bool(body.port_security_enabled, "port_security_enabled");
    const uuid = randomUUID();
    return this.store.transaction(() => {
      const vmiBody: Json = {
        uuid,
        fq_name: [...PROJECT_FQ, uuid],
        parent_type: "project",
        display_name: str(body.name, "name") ?? "",
        virtual_network_refs: [{ uuid: vn.uuid }],
        virtual_machine_interface_device_owner: str(body.device_owner, "device_owner") ?? "",
        id_perms: { enable: up ?? true, description: str(body.description, "description") ?? null },
      };
      if (mac) vmiBody.virtual_machine_interface_mac_addresses = { mac_address: [mac.toLowerCase()] };
      if (psec !== undefined) vmiBody.port_security_enabled = psec;
      this.tfToNeutron(() => this.store.create("virtual-machine-interface", vmiBody), "port");
      const wanted = fixed ?? (this.subnetsOfVn(vn).length ? [{}] : []);
      for (const f of wanted) this.addFixedIp(vn, uuid, f);
      const deviceId = str(body.device_id, "device_id") ?? "";
      const hostId = str(body["binding:host_id"], "binding:host_id") ?? "";
      if (deviceId || hostId) this.bind(uuid, { deviceId, deviceOwner: String(vmiBody.virtual_machine_interface_device_owner), hostId });
      return this.getPortObject(uuid);
    });
  }

  private addFixedIp(vn: TfObject, vmiUuid: string, f: { subnet_id?: string; ip_address?: string }): void {
    const iipUuid = randomUUID();
    const iip: Json = { uuid: iipUuid, fq_name: [iipUuid], virtual_network_refs: [{ uuid: vn.uuid }], virtual_machine_interface_refs: [{ uuid: vmiUuid }] };
    if (f.subnet_id) {
      if (!this.subnetsOfVn(vn).some((s) => s.subnet_uuid === f.subnet_id)) {
        throw neutronFault(400, "InvalidInput", `Invalid input for operation: subnet ${f.subnet_id} is not a subnet of network ${vn.uuid}.`);
      }
      iip.subnet_uuid = f.subnet_id;
    }
    if (f.ip_address !== undefined) iip.instance_ip_address = f.ip_address;
    this.tfToNeutron(() => this.store.create("instance-ip", iip), "port", (e) => {
      if (e.status === 409) return neutronFault(409, "IpAddressInUse", `Unable to complete operation for network ${vn.uuid}. The IP address ${f.ip_address} is in use.`);
      if (e.message.includes("has exhausted subnet")) return neutronFault(409, "IpAddressGenerationFailure", `No more IP addresses available on network ${vn.uuid}.`);
      return neutronFault(e.status === 404 ? 400 : e.status, "InvalidInput", `Invalid input for operation: ${e.message}.`);
    });
  }

  updatePort(id: string, body: Json): Json {
    const vmi = this.getPortObject(id);
    if ("fixed_ips" in body || "network_id" in body || "mac_address" in body) {
      const k = ["fixed_ips", "network_id", "mac_address"].find((x) => x in body)!;
      throw neutronFault(400, "BadRequest", `Updating ${k} of a port is not supported by the lab; create a new port instead.`);
    }
    this.store.transaction(() => {
      const patch: Json = {};
      const name = str(body.name, "name");
      if (name !== undefined) patch.display_name = name;
      const up = bool(body.admin_state_up, "admin_state_up");
      if (up !== undefined) patch.id_perms = { enable: up };
      const psec = bool(body.port_security_enabled, "port_security_enabled");
      if (psec !== undefined) patch.port_security_enabled = psec;
      if (Object.keys(patch).length) this.store.update("virtual-machine-interface", id, patch);
      if ("device_id" in body || "device_owner" in body || "binding:host_id" in body) {
        const cur = this.portView(vmi);
        this.bind(id, {
          deviceId: "device_id" in body ? (str(body.device_id, "device_id") ?? "") : String(cur.device_id),
          deviceOwner: "device_owner" in body ? (str(body.device_owner, "device_owner") ?? "") : String(cur.device_owner),
          hostId: "binding:host_id" in body ? (str(body["binding:host_id"], "binding:host_id") ?? "") : String(cur["binding:host_id"]),
        });
      }
    });
    return this.getPort(id);
  }

  /**
   * Sets device_id (the VMI -> virtual-machine ref; a VM the lab does not know is created, as TF's
   * plugin does), device_owner and binding:host_id. Empty values unbind.
   */
  bind(id: string, b: PortBinding): void {
    this.store.transaction(() => {
      const vmi = this.getPortObject(id);
      const oldVm = refsOf(vmi, "virtual_machine_refs")[0]?.uuid;
      let vmRefs: Array<{ uuid: string }> = [];
      if (b.deviceId) {
        if (!isUuid(b.deviceId)) throw neutronFault(400, "InvalidInput", `Invalid input for device_id. Reason: the lab expects a server UUID, got '${b.deviceId}'.`);
        if (!this.store.find("virtual-machine", b.deviceId)) {
          this.store.create("virtual-machine", { uuid: b.deviceId, fq_name: [b.deviceId], display_name: b.deviceId });
          this.db.prepare("INSERT OR IGNORE INTO os_neutron_vm (vm_uuid) VALUES (?)").run(b.deviceId);
        }
        vmRefs = [{ uuid: b.deviceId }];
      }
      const bindings = b.hostId ? [{ key: "host_id", value: b.hostId }, { key: "vif_type", value: "vrouter" }, { key: "vnic_type", value: "normal" }] : [{ key: "vnic_type", value: "normal" }];
      this.store.update("virtual-machine-interface", id, {
        virtual_machine_refs: vmRefs,
        virtual_machine_interface_device_owner: b.deviceOwner,
        virtual_machine_interface_bindings: { key_value_pair: bindings },
      });
      if (oldVm && oldVm !== b.deviceId) this.dropVmIfOrphan(oldVm);
    });
  }

  /** Deletes the port's instance-ips and the VMI. `inUse` refuses ports attached to a server (409). */
  deletePort(id: string, isServer: (deviceId: string) => boolean = () => false): void {
    const vmi = this.getPortObject(id);
    const deviceId = refsOf(vmi, "virtual_machine_refs")[0]?.uuid;
    if (deviceId && isServer(deviceId)) {
      throw neutronFault(409, "PortInUse", `Unable to complete operation on port ${id} for network ${refsOf(vmi, "virtual_network_refs")[0]?.uuid}. Port already has an attached device ${deviceId}.`);
    }
    this.store.transaction(() => {
      for (const r of refsOf(vmi, "instance_ip_back_refs")) this.store.delete("instance-ip", r.uuid);
      this.store.delete("virtual-machine-interface", id);
      if (deviceId) this.dropVmIfOrphan(deviceId);
    });
  }

  /** Deletes a VM this plugin created once no port refers to it any more. */
  private dropVmIfOrphan(vmUuid: string): void {
    if (!this.db.prepare("SELECT 1 FROM os_neutron_vm WHERE vm_uuid = ?").get(vmUuid)) return;
    const vm = this.store.find("virtual-machine", vmUuid);
    if (vm && refsOf(vm, "virtual_machine_interface_back_refs").length === 0 && refsOf(vm, "virtual_router_back_refs").length === 0) {
      this.store.delete("virtual-machine", vmUuid);
    }
    if (!vm || !this.store.find("virtual-machine", vmUuid)) this.db.prepare("DELETE FROM os_neutron_vm WHERE vm_uuid = ?").run(vmUuid);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private exists(type: string, fq: string[]): boolean {
    try {
      this.store.fqNameToId(type, fq);
      return true;
    } catch {
      return false;
    }
  }

  /** TF errors become Neutron errors (BadRequest / Conflict / NotFound with TF's message). */
  private tfToNeutron<T>(fn: () => T, what: string, map?: (e: TfError) => ReturnType<typeof neutronFault> | undefined): T {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof TfError)) throw e;
      const mapped = map?.(e);
      if (mapped) throw mapped;
      const type = e.status === 409 ? "Conflict" : e.status === 404 ? `${what[0]!.toUpperCase()}${what.slice(1)}NotFound` : "BadRequest";
      throw neutronFault(e.status === 403 ? 400 : e.status, type, e.message);
    }
  }
}
