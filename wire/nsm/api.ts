// The NSM data model (networkservicemesh/api v1, pkg/api/networkservice and pkg/api/registry),
// with NSM's snake_case JSON field names so records read the same here and on the wire.

export type ConnectionState = "UP" | "DOWN" | "REFRESH_REQUESTED" | "RESELECT_REQUESTED";
export type Payload = "ETHERNET" | "IP";

/** How the client gets its interface. Only the kernel mechanism (a Linux interface) is used here. */
export interface Mechanism {
  cls: "LOCAL" | "REMOTE";
  type: "KERNEL" | string;
  /** Kernel mechanism: `name` (interface name, <= 15 chars), `inodeURL` (file:///var/run/netns/<netns>),
   *  `netnsName`, `MTU`. */
  parameters?: Record<string, string>;
}

/** The kernel mechanism's parameter keys. */
export const KERNEL = "KERNEL";
export const MechanismParam = {
  name: "name",
  inodeURL: "inodeURL",
  netnsName: "netnsName",
  mtu: "MTU",
} as const;

/** A route as NSM carries it; a missing nextHop means on-link. */
export interface Route {
  prefix: string;
  nextHop?: string;
}

export interface IpNeighbor {
  ip: string;
  hardware_address: string;
}

/** A request for further prefixes from the endpoint. */
export interface ExtraPrefixRequest {
  addr_family?: { family?: "IPV4" | "IPV6" };
  prefix_len?: number;
  required_number?: number;
  requested_number?: number;
}

/** Source-based routing: traffic `from` an address (and of a protocol and ports) takes `routes`. */
export interface PolicyRoute {
  from?: string;
  proto?: string;
  dst_port?: string;
  src_port?: string;
  routes?: Route[];
}

/** Addresses and routes, seen from the client (src) and the endpoint (dst) side. */
export interface IPContext {
  /** The client's own addresses, "a.b.c.d/len". */
  src_ip_addrs?: string[];
  dst_ip_addrs?: string[];
  src_ip_required?: boolean;
  dst_ip_required?: boolean;
  /** Routes to install in the client. */
  src_routes?: Route[];
  dst_routes?: Route[];
  excluded_prefixes?: string[];
  ip_neighbors?: IpNeighbor[];
  extra_prefix_request?: ExtraPrefixRequest[];
  extra_prefixes?: string[];
  policies?: PolicyRoute[];
}

export interface EthernetContext {
  src_mac?: string;
  dst_mac?: string;
  vlan_tag?: number;
}

export interface ConnectionContext {
  ip_context?: IPContext;
  dns_context?: { configs?: Array<{ dns_server_ips?: string[]; search_domains?: string[] }> };
  ethernet_context?: EthernetContext;
  /** NSM's free-form map: the service's section for its forwarder (`tungsten.virtual_network`, `kernel.cidr`)
   *  and what the forwarder built that a heal, check or close must know (e.g. `tungsten.vmi_uuid`). */
  extra_context?: Record<string, string>;
  MTU?: number;
}

export interface PathSegment {
  name: string;
  id: string;
  token?: string;
  expires?: string;
  metrics?: Record<string, string>;
}

/** The hops a connection went through: client, manager, forwarder. */
export interface Path {
  index: number;
  path_segments: PathSegment[];
}

export interface Connection {
  id: string;
  network_service: string;
  mechanism?: Mechanism;
  context?: ConnectionContext;
  /** Client labels; `nodeName` names the client's node, `podName` the client pod. */
  labels?: Record<string, string>;
  path?: Path;
  network_service_endpoint_name?: string;
  payload?: Payload;
  state?: ConnectionState;
}

export interface NetworkServiceRequest {
  connection: Connection;
  mechanism_preferences?: Mechanism[];
}

/** What MonitorConnections streams: first every connection in scope, then each change. */
export type ConnectionEventType = "INITIAL_STATE_TRANSFER" | "UPDATE" | "DELETE";

export interface ConnectionEvent {
  type: ConnectionEventType;
  /** By connection id. */
  connections: Record<string, Connection>;
}

/** Which connections a monitor sees: those of one of `network_services` whose path holds
 *  `path_segments` in a row (an empty name, id or token matches any). Empty lists select all. */
export interface MonitorScopeSelector {
  path_segments?: Array<Pick<PathSegment, "name" | "id" | "token">>;
  network_services?: string[];
}

/** One rule of a service's endpoint selection: for clients whose labels hold `source_selector`,
 *  the endpoints whose labels hold a route's `destination_selector`; `metadata` labels select the forwarder. */
export interface Match {
  source_selector?: Record<string, string>;
  routes?: Array<{ destination_selector?: Record<string, string>; weight?: number }>;
  fallthrough?: boolean;
  metadata?: { labels?: Record<string, string> };
}

/** A registry record: what a client can ask for. `forwarder` and the per-forwarder sections
 *  are this project's binding of a service to the forwarder that realizes it. */
export interface NetworkService {
  name: string;
  payload: Payload;
  matches?: unknown[];
  /** The forwarder type that builds this service's interfaces: "tungsten", "kernel", ... */
  forwarder: string;
  tungsten?: { virtual_network: string };
  kernel?: { cidr: string };
  /** The SPIFFE IDs that registered it (NSM's path_ids): the first is its owner, the only identity that may change it. */
  path_ids?: string[];
}

/** A registry record: who provides a service. Forwarders register as endpoints of `forwarder`. */
export interface NetworkServiceEndpoint {
  name: string;
  network_service_names: string[];
  network_service_labels?: Record<string, { labels: Record<string, string> }>;
  url?: string;
  /** When the registration lapses unless refreshed: a google.protobuf.Timestamp in its JSON form, RFC 3339
   *  ("2024-05-01T12:00:00.000Z"; the registry also takes Go's {seconds, nanos}). Default: one lifetime from registering. */
  expiration_time?: string;
  /** The SPIFFE IDs that registered it (NSM's path_ids): the first is its owner, the only identity that may change it. */
  path_ids?: string[];
}

/**
 * What a connection records of its service for the forwarder: the service's section for that
 * forwarder as extra_context entries `<forwarder>.<key>` (tungsten.virtual_network, kernel.cidr).
 * The forwarder's elements read it from there, so close and heal see the service as it was.
 */
export function serviceBinding(service: NetworkService): Record<string, string> {
  const section = (service as unknown as Record<string, unknown>)[service.forwarder];
  const entries = section && typeof section === "object" ? Object.entries(section as Record<string, unknown>) : [];
  return Object.fromEntries(entries.map(([k, v]) => [`${service.forwarder}.${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** The special service forwarders register under. */
export const FORWARDER_SERVICE = "forwarder";

/** Client label carrying the node the client pod runs on. */
export const NODE_LABEL = "nodeName";
/** Client label carrying the client pod's name. */
export const POD_LABEL = "podName";
/** Client label carrying the client pod's Kubernetes namespace. */
export const POD_NAMESPACE_LABEL = "podNamespace";
/** Client label carrying the client pod's uid: a forwarder finds a pod's netns through it when no inodeURL names one. */
export const POD_UID_LABEL = "podUid";

/** `<forwarder>@<node>`: the endpoint name of one forwarder instance. */
export const forwarderEndpointName = (type: string, node: string): string => `${type}@${node}`;

/** The forwarder type in an endpoint name `<forwarder>@<node>`; undefined for other names. */
export function forwarderTypeOf(endpointName: string | undefined): string | undefined {
  const at = endpointName?.lastIndexOf("@") ?? -1;
  return at > 0 ? endpointName!.slice(0, at) : undefined;
}

/** The endpoint record a forwarder of `type` on `node` registers. */
export function forwarderEndpoint(type: string, node: string, url?: string): NetworkServiceEndpoint {
  return {
    name: forwarderEndpointName(type, node),
    network_service_names: [FORWARDER_SERVICE],
    network_service_labels: { [FORWARDER_SERVICE]: { labels: { type, node } } },
    ...(url ? { url } : {}),
  };
}
