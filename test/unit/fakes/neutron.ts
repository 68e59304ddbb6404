// Fake Neutron v2.0, as the lab's (lab/openstack/neutron.ts over its NeutronModel): networks with
// their subnets, subnets, and the ports Nova creates for a server (the lowest free address of the
// network's subnet, or the fixed one asked for; 409 when taken), in Neutron's shapes, listed with
// Neutron's list query and answering 404 in Neutron's error shape. Unlike the lab, these networks are
// not the fake TF's virtual networks: the fake cloud starts with network "red" (10.1.1.0/24).
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { cidrAddress, cidrContains } from "../../../lib/validate/cidr.ts";
import { createJsonServer } from "../../../lib/http/server.ts";
import type { ApiRequest } from "../../../lib/http/server.ts";
import { isoSeconds, neutronError, neutronFault } from "../../../lab/openstack/common.ts";
import { filterItems } from "../../../lab/openstack/listQuery.ts";
import { PROJECT_FQ, PROJECT_ID } from "./mount.ts";

export interface FakeNetwork {
  id: string;
  name: string;
}

export interface FakeSubnet {
  id: string;
  network_id: string;
  cidr: string;
  gateway_ip: string;
}

export interface FakePort {
  id: string;
  network_id: string;
  mac_address: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
  device_id: string;
  device_owner: string;
  /** binding:host_id, the compute node the port is bound to. */
  host: string;
  created: string;
}

export interface NeutronFakeState {
  networks: FakeNetwork[];
  subnets: FakeSubnet[];
  ports: FakePort[];
}

export const RED_NETWORK: FakeNetwork = { id: "7d0a5a55-0000-4000-8000-000000000001", name: "red" };
export const RED_SUBNET: FakeSubnet = { id: "5b0a5a55-0000-4000-8000-000000000001", network_id: RED_NETWORK.id, cidr: "10.1.1.0/24", gateway_ip: "10.1.1.1" };

const STARTED = isoSeconds();
// TF (whose ports these are in the lab) gives a port the MAC 02 + the first five bytes of its uuid.
const portMac = (uuid: string) => ["02", ...(uuid.replace(/-/g, "").match(/../g) ?? []).slice(0, 5)].join(":");
// What the lab's networks number from; these networks are not TF's, so they stay clear of its ids.
const NETWORK_ID_BASE = 1000;

/** What Neutron shows of a network the fake does not track, as the lab shows an enabled, unshared one. */
const NETWORK_ATTRIBUTES = {
  shared: false, "router:external": false, port_security_enabled: true, mtu: 1500, description: "",
  availability_zones: ["nova"], availability_zone_hints: [], ipv4_address_scope: null, ipv6_address_scope: null, l2_adjacency: true, tags: [],
};

function networkView(state: NeutronFakeState, n: FakeNetwork): Record<string, unknown> {
  return {
    id: n.id,
    name: n.name,
    tenant_id: PROJECT_ID,
    project_id: PROJECT_ID,
    admin_state_up: true,
    status: "ACTIVE",
    subnets: state.subnets.filter((s) => s.network_id === n.id).map((s) => s.id),
    ...NETWORK_ATTRIBUTES,
    created_at: STARTED,
    updated_at: STARTED,
    revision_number: 1,
    "contrail:fq_name": [...PROJECT_FQ, n.name],
    "contrail:virtual_network_network_id": NETWORK_ID_BASE + state.networks.indexOf(n),
  };
}

function subnetView(s: FakeSubnet): Record<string, unknown> {
  // Neutron's subnet timestamps have no zone.
  const stamp = STARTED.replace(/Z$/, "");
  return {
    id: s.id,
    name: "",
    tenant_id: PROJECT_ID,
    project_id: PROJECT_ID,
    network_id: s.network_id,
    ip_version: 4,
    cidr: s.cidr,
    gateway_ip: s.gateway_ip,
    allocation_pools: [{ start: cidrAddress(s.cidr, s.gateway_ip === cidrAddress(s.cidr, 1) ? 2 : 1), end: cidrAddress(s.cidr, -2) }],
    enable_dhcp: true,
    dns_nameservers: [],
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    segment_id: null,
    service_types: [],
    shared: false,
    description: "",
    tags: [],
    created_at: stamp,
    updated_at: stamp,
    revision_number: 1,
  };
}

export function portView(p: FakePort): Record<string, unknown> {
  return {
    id: p.id,
    name: "",
    network_id: p.network_id,
    tenant_id: PROJECT_ID,
    project_id: PROJECT_ID,
    mac_address: p.mac_address,
    admin_state_up: true,
    status: p.device_id && p.host ? "ACTIVE" : "DOWN",
    fixed_ips: p.fixed_ips,
    device_id: p.device_id,
    device_owner: p.device_owner,
    "binding:host_id": p.host,
    "binding:vif_type": p.host ? "vrouter" : "unbound",
    "binding:vnic_type": "normal",
    "binding:vif_details": {},
    "binding:profile": {},
    security_groups: [],
    port_security_enabled: true,
    allowed_address_pairs: [],
    extra_dhcp_opts: [],
    description: "",
    tags: [],
    created_at: p.created,
    updated_at: p.created,
    revision_number: 1,
  };
}

/**
 * A port of a server on `networkId` (Nova creates them at boot): the fixed address, else the lowest
 * free one after the gateway and the DNS address, as the lab's address manager hands them out.
 */
export function createServerPort(state: NeutronFakeState, req: { networkId: string; fixedIp?: string; deviceId: string; host: string }): FakePort {
  const subnet = state.subnets.find((s) => s.network_id === req.networkId && (req.fixedIp === undefined || cidrContains(s.cidr, req.fixedIp)));
  if (!subnet) throw neutronFault(400, "IpAddressGenerationFailure", `No valid subnet of network ${req.networkId} for ${req.fixedIp ?? "an address"}`);
  const used = new Set(state.ports.flatMap((p) => p.fixed_ips.filter((f) => f.subnet_id === subnet.id).map((f) => f.ip_address)));
  let ip = req.fixedIp;
  if (ip !== undefined && used.has(ip)) throw neutronFault(409, "IpAddressInUse", `Unable to complete operation for network ${req.networkId}. The IP address ${ip} is in use.`);
  for (let host = 3; ip === undefined; host++) {
    const candidate = cidrAddress(subnet.cidr, host);
    if (candidate === cidrAddress(subnet.cidr, -1)) throw neutronFault(409, "IpAddressGenerationFailure", `No more IP addresses available on network ${req.networkId}.`);
    if (!used.has(candidate)) ip = candidate;
  }
  const id = randomUUID();
  const port: FakePort = {
    id,
    network_id: req.networkId,
    mac_address: portMac(id),
    fixed_ips: [{ subnet_id: subnet.id, ip_address: ip }],
    device_id: req.deviceId,
    device_owner: "compute:nova",
    host: req.host,
    created: isoSeconds(),
  };
  state.ports.push(port);
  return port;
}

export function fakeNeutron(state: NeutronFakeState, requireToken: (req: ApiRequest) => void): http.Server {
  // One item by id, or Neutron's <Kind>NotFound.
  const one = <T extends { id: string }>(items: T[], kind: "Network" | "Subnet" | "Port", id: string): T => {
    const item = items.find((x) => x.id === id);
    if (!item) throw neutronFault(404, `${kind}NotFound`, `${kind} ${id} could not be found.`);
    return item;
  };
  const fixedIps = (item: Record<string, unknown>, wanted: string) => {
    const [k, v] = wanted.split("=", 2);
    return ((item.fixed_ips as Array<Record<string, unknown>> | undefined) ?? []).some((f) => f[k ?? ""] === v);
  };
  return createJsonServer({
    name: "fake-neutron",
    renderError: neutronError,
    before: requireToken,
    routes: [
      { method: "GET", pattern: "/v2.0/networks", handler: (req) => ({ body: { networks: filterItems(state.networks.map((n) => networkView(state, n)), req.query) } }) },
      { method: "GET", pattern: "/v2.0/networks/:id", handler: (req) => ({ body: { network: networkView(state, one(state.networks, "Network", req.params.id!)) } }) },
      { method: "GET", pattern: "/v2.0/subnets", handler: (req) => ({ body: { subnets: filterItems(state.subnets.map(subnetView), req.query) } }) },
      { method: "GET", pattern: "/v2.0/subnets/:id", handler: (req) => ({ body: { subnet: subnetView(one(state.subnets, "Subnet", req.params.id!)) } }) },
      { method: "GET", pattern: "/v2.0/ports", handler: (req) => ({ body: { ports: filterItems(state.ports.map(portView), req.query, { fixed_ips: fixedIps }) } }) },
      { method: "GET", pattern: "/v2.0/ports/:id", handler: (req) => ({ body: { port: portView(one(state.ports, "Port", req.params.id!)) } }) },
    ],
  });
}
