// The TF object types the lab serves: parent types, properties (with value types) and reference
// fields, as in TF's vnc schema. Children and back references are derived from this table.
import type { ValueSpec } from "./valueSpec.ts";

const obj = (name: string, fields?: Record<string, ValueSpec>): ValueSpec => (fields ? { t: "object", name, fields } : { t: "object", name });
const list = (of: ValueSpec): ValueSpec => ({ t: "list", of });
const int = (min: number, max: number): ValueSpec => ({ t: "integer", min, max });
const oneOf = (...e: string[]): ValueSpec => ({ t: "string", enum: e });

const SubnetType = obj("SubnetType", { ip_prefix: "string", ip_prefix_len: "integer" });
const RouteType = obj("RouteType", { prefix: "string", next_hop: "string", next_hop_type: oneOf("service-instance", "ip-address"), community_attributes: "any" });
const RouteTableType = obj("RouteTableType", { route: list(RouteType) });
const DhcpOptionsListType = obj("DhcpOptionsListType", {
  dhcp_option: list(obj("DhcpOptionType", { dhcp_option_name: "string", dhcp_option_value: "string", dhcp_option_value_bytes: "string" })),
});
const AllocationPoolType = obj("AllocationPoolType", { start: "string", end: "string", vrouter_specific_pool: "boolean" });
export const IpamSubnetType = obj("IpamSubnetType", {
  subnet: SubnetType, default_gateway: "string", dns_server_address: "string", subnet_uuid: "string", enable_dhcp: "boolean",
  dns_nameservers: list("string"), allocation_pools: list(AllocationPoolType), addr_from_start: "boolean",
  dhcp_option_list: DhcpOptionsListType, host_routes: RouteTableType, subnet_name: "string", alloc_unit: "integer",
  created: "string", last_modified: "string", subscriber_tag: "string", vlan_tag: "integer", dhcp_relay_server: list("string"),
});
export const VnSubnetsType = obj("VnSubnetsType", { ipam_subnets: list(IpamSubnetType), host_routes: RouteTableType });
const KeyValuePairs = obj("KeyValuePairs", { key_value_pair: list(obj("KeyValuePair", { key: "string", value: "string" })) });
const RouteTargetList = obj("RouteTargetList", { route_target: list("string") });
const PermType = obj("PermType", { owner: "string", owner_access: int(0, 7), group: "string", group_access: int(0, 7), other_access: int(0, 7) });
const IdPermsType = obj("IdPermsType", {
  permissions: PermType, uuid: "any", enable: "boolean", created: "string", last_modified: "string",
  description: "string", user_visible: "boolean", creator: "string",
});
const PermType2 = obj("PermType2", {
  owner: "string", owner_access: int(0, 7), global_access: int(0, 7), share: list(obj("ShareType", { tenant: "string", tenant_access: int(0, 7) })),
});
const VirtualNetworkType = obj("VirtualNetworkType", {
  allow_transit: "boolean", network_id: "integer", vxlan_network_identifier: int(1, 16777215), forwarding_mode: oneOf("l2_l3", "l2", "l3"),
  rpf: oneOf("enable", "disable"), mirror_destination: "boolean", max_flows: int(0, 4294967296), mtu: "integer",
});
const MacAddressesType = obj("MacAddressesType", { mac_address: list("string") });

/** Properties every type has. */
const COMMON_PROPS: Record<string, ValueSpec> = { id_perms: IdPermsType, perms2: PermType2, annotations: KeyValuePairs, display_name: "string" };

export interface TypeSchema {
  /** "config-root" = no parent (fq_name of length 1). */
  parents: readonly string[];
  props: Readonly<Record<string, ValueSpec>>;
  /** <ref field> -> referenced type. */
  refs: Readonly<Record<string, string>>;
  /** Value types of the ref attr, where TF defines one. */
  refAttrs?: Readonly<Record<string, ValueSpec>>;
}

const TYPES: Record<string, TypeSchema> = {
  "domain": { parents: ["config-root"], props: { domain_limits: obj("DomainLimitsType") }, refs: { tag_refs: "tag" } },
  "project": {
    parents: ["domain"],
    props: { quota: obj("QuotaType"), vxlan_routing: "boolean", alarm_enable: "boolean", enable_security_policy_draft: "boolean" },
    refs: { namespace_refs: "namespace", floating_ip_pool_refs: "floating-ip-pool", alias_ip_pool_refs: "alias-ip-pool", application_policy_set_refs: "application-policy-set", tag_refs: "tag" },
  },
  "network-ipam": {
    parents: ["project"],
    props: {
      network_ipam_mgmt: obj("IpamType"), ipam_subnets: obj("IpamSubnets", { subnets: list(IpamSubnetType) }),
      ipam_subnet_method: oneOf("user-defined-subnet", "flat-subnet", "auto-subnet"), ipam_subnetting: "boolean",
    },
    refs: { virtual_DNS_refs: "virtual-DNS", tag_refs: "tag" },
  },
  "virtual-network": {
    parents: ["project"],
    props: {
      ecmp_hashing_include_fields: obj("EcmpHashingIncludeFields"), virtual_network_category: oneOf("infra", "tenant", "internal", "routed"),
      virtual_network_properties: VirtualNetworkType, virtual_network_routed_properties: obj("VirtualNetworkRoutedPropertiesType"),
      provider_properties: obj("ProviderDetails"), virtual_network_network_id: "integer", is_provider_network: "boolean",
      port_security_enabled: "boolean", fabric_snat: "boolean", route_target_list: RouteTargetList, import_route_target_list: RouteTargetList,
      export_route_target_list: RouteTargetList, router_external: "boolean", is_shared: "boolean", external_ipam: "boolean",
      flood_unknown_unicast: "boolean", multi_policy_service_chains_enabled: "boolean",
      address_allocation_mode: oneOf("user-defined-subnet-preferred", "user-defined-subnet-only", "flat-subnet-preferred", "flat-subnet-only"),
      virtual_network_fat_flow_protocols: obj("FatFlowProtocols"), mac_learning_enabled: "boolean", mac_limit_control: obj("MACLimitControlType"),
      mac_move_control: obj("MACMoveLimitControlType"), mac_aging_time: int(0, 86400), pbb_evpn_enable: "boolean", pbb_etree_enable: "boolean",
      layer2_control_word: "boolean", igmp_enable: "boolean",
    },
    refs: {
      security_logging_object_refs: "security-logging-object", qos_config_refs: "qos-config", network_ipam_refs: "network-ipam",
      network_policy_refs: "network-policy", virtual_network_refs: "virtual-network", route_table_refs: "route-table",
      multicast_policy_refs: "multicast-policy", bgpvpn_refs: "bgpvpn", intent_map_refs: "intent-map", routing_policy_refs: "routing-policy", tag_refs: "tag",
    },
    refAttrs: { network_ipam_refs: VnSubnetsType },
  },
  "virtual-machine": {
    parents: ["config-root"],
    props: { server_type: oneOf("virtual-server", "baremetal-server", "container") },
    refs: { service_instance_refs: "service-instance", tag_refs: "tag" },
  },
  "virtual-machine-interface": {
    parents: ["virtual-machine", "project", "virtual-router"],
    props: {
      ecmp_hashing_include_fields: obj("EcmpHashingIncludeFields"), port_security_enabled: "boolean",
      virtual_machine_interface_mac_addresses: MacAddressesType, virtual_machine_interface_dhcp_option_list: DhcpOptionsListType,
      virtual_machine_interface_host_routes: RouteTableType, virtual_machine_interface_allowed_address_pairs: obj("AllowedAddressPairs"),
      vrf_assign_table: obj("VrfAssignTableType"), virtual_machine_interface_device_owner: "string", virtual_machine_interface_disable_policy: "boolean",
      virtual_machine_interface_properties: obj("VirtualMachineInterfacePropertiesType"), virtual_machine_interface_bindings: KeyValuePairs,
      virtual_machine_interface_fat_flow_protocols: obj("FatFlowProtocols"), vlan_tag_based_bridge_domain: "boolean", igmp_enable: "boolean",
    },
    refs: {
      security_logging_object_refs: "security-logging-object", qos_config_refs: "qos-config", security_group_refs: "security-group",
      virtual_machine_interface_refs: "virtual-machine-interface", virtual_machine_refs: "virtual-machine", virtual_network_refs: "virtual-network",
      routing_instance_refs: "routing-instance", bgp_router_refs: "bgp-router", port_tuple_refs: "port-tuple", service_health_check_refs: "service-health-check",
      interface_route_table_refs: "interface-route-table", physical_interface_refs: "physical-interface", bridge_domain_refs: "bridge-domain",
      service_endpoint_refs: "service-endpoint", port_profile_refs: "port-profile", tag_refs: "tag",
    },
  },
  "instance-ip": {
    parents: ["config-root"],
    props: {
      instance_ip_address: "string", instance_ip_family: oneOf("v4", "v6"), instance_ip_mode: oneOf("active-active", "active-standby"),
      secondary_ip_tracking_ip: SubnetType, subnet_uuid: "string", instance_ip_subscriber_tag: "string", instance_ip_secondary: "boolean",
      instance_ip_local_ip: "boolean", service_instance_ip: "boolean", service_health_check_ip: "boolean", instance_ip_subnet: SubnetType,
    },
    refs: {
      virtual_network_refs: "virtual-network", network_ipam_refs: "network-ipam", virtual_machine_interface_refs: "virtual-machine-interface",
      physical_router_refs: "physical-router", virtual_router_refs: "virtual-router", logical_interface_refs: "logical-interface", flow_node_refs: "flow-node", tag_refs: "tag",
    },
  },
  "virtual-router": {
    parents: ["global-system-config"],
    props: { virtual_router_type: oneOf("embedded", "tor-agent", "tor-service-node"), virtual_router_dpdk_enabled: "boolean", virtual_router_ip_address: "string" },
    refs: { network_ipam_refs: "network-ipam", sub_cluster_refs: "sub-cluster", virtual_machine_refs: "virtual-machine", tag_refs: "tag" },
  },
  "global-system-config": {
    parents: ["config-root"],
    props: {
      autonomous_system: int(1, 4294967295), enable_4byte_as: "boolean", config_version: "string", graceful_restart_parameters: obj("GracefulRestartParametersType"),
      plugin_tuning: obj("PluginProperties"), data_center_interconnect_loopback_namespace: obj("SubnetListType"),
      data_center_interconnect_asn_namespace: obj("AsnRangeType"), ibgp_auto_mesh: "boolean", bgp_always_compare_med: "boolean",
      rd_cluster_seed: int(1, 65535), ip_fabric_subnets: obj("SubnetListType"), supported_device_families: obj("DeviceFamilyListType"),
      supported_vendor_hardwares: obj("VendorHardwaresType"), bgpaas_parameters: obj("BGPaaServiceParametersType"),
      mac_limit_control: obj("MACLimitControlType"), mac_move_control: obj("MACMoveLimitControlType"), mac_aging_time: int(0, 86400),
      igmp_enable: "boolean", alarm_enable: "boolean", user_defined_log_statistics: obj("UserDefinedLogStatList"),
      enable_security_policy_draft: "boolean", supported_fabric_annotations: KeyValuePairs,
    },
    refs: { bgp_router_refs: "bgp-router", tag_refs: "tag" },
  },
};

for (const s of Object.values(TYPES)) (s as { props: Record<string, ValueSpec> }).props = { ...s.props, ...COMMON_PROPS };

export const TYPE_NAMES: readonly string[] = Object.keys(TYPES);

/** The parent of objects without one (fq_name of length 1). */
export const CONFIG_ROOT = "config-root";

/** Map properties (KeyValuePairs keyed by "key") /prop-collection-update edits, besides every type's annotations. */
const MAP_PROPS: Record<string, readonly string[]> = { "virtual-machine-interface": ["virtual_machine_interface_bindings"] };

export function isMapProperty(type: string, field: unknown): field is string {
  return field === "annotations" || (typeof field === "string" && (MAP_PROPS[type]?.includes(field) ?? false));
}

export function schemaOf(type: string): TypeSchema | undefined {
  return Object.hasOwn(TYPES, type) ? TYPES[type] : undefined;
}

/** "virtual-network" -> "virtual_network". */
export const underscored = (type: string) => type.replace(/-/g, "_");

/** Back-ref field names a type can have: "<source type>_back_refs" for every type that refers to it. */
export function backRefFields(type: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [src, s] of Object.entries(TYPES)) {
    for (const target of Object.values(s.refs)) if (target === type) out.set(`${underscored(src)}_back_refs`, src);
  }
  return out;
}

/** Child field names of a type: "<child type>s" for every type whose parents include it. */
export function childFields(type: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [child, s] of Object.entries(TYPES)) if (s.parents.includes(type)) out.set(`${underscored(child)}s`, child);
  return out;
}
