// The one place where NSM's generated gRPC messages (wire/nsm/gen, from wire/nsm/proto) and the
// data model of api.ts meet; each function maps one message, field by field. proto3 cannot tell an
// empty string, list or map from an absent one, so the api.ts side leaves them out. NSM's
// NetworkService has no field for this project's binding of a service to its forwarder; it rides
// in the service's first match (see bindingMatch).
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type * as api from "./api.ts";
import { serviceBinding } from "./api.ts";
import type * as conn from "./gen/connection_pb.ts";
import { ConnectionEventSchema, ConnectionEventType, ConnectionSchema, MechanismSchema, MonitorScopeSelectorSchema, PathSchema, PathSegmentSchema, State } from "./gen/connection_pb.ts";
import type * as ctx from "./gen/connectioncontext_pb.ts";
import {
  ConnectionContextSchema,
  DNSConfigSchema,
  DNSContextSchema,
  EthernetContextSchema,
  ExtraPrefixRequestSchema,
  IpFamily_Family,
  IpFamilySchema,
  IPContextSchema,
  IpNeighborSchema,
  PolicyRouteSchema,
  RouteSchema,
} from "./gen/connectioncontext_pb.ts";
import type { NetworkServiceRequest } from "./gen/networkservice_pb.ts";
import { NetworkServiceRequestSchema } from "./gen/networkservice_pb.ts";
import type * as reg from "./gen/registry_pb.ts";
import { DestinationSchema, MatchSchema, MetadataSchema, NetworkServiceEndpointSchema, NetworkServiceLabelsSchema, NetworkServiceSchema } from "./gen/registry_pb.ts";

/** `o` without its undefined entries, so an absent field stays absent. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const nonEmpty = (s: string): string | undefined => (s === "" ? undefined : s);
const nonEmptyList = <T>(l: T[]): T[] | undefined => (l.length === 0 ? undefined : l);
const nonEmptyMap = <V>(m: Record<string, V>): Record<string, V> | undefined => (Object.keys(m).length === 0 ? undefined : { ...m });
const orFalse = (b: boolean): true | undefined => (b ? true : undefined);
const orZero = (n: number): number | undefined => (n === 0 ? undefined : n);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const stringsOf = (v: unknown): Record<string, string> =>
  isRecord(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string")) : {};

// --- timestamps: RFC 3339 strings in api.ts (as the JSON mapping of google.protobuf.Timestamp writes them)

function timestampToIso(ts: Timestamp): string {
  const d = new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
  // Out of Date's range: a text the registry refuses, naming the seconds it got.
  return Number.isNaN(d.getTime()) ? `${ts.seconds}s` : d.toISOString();
}

function timestampFromIso(iso: string | undefined): Timestamp | undefined {
  const ms = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(ms) ? timestampFromMs(ms) : undefined;
}

// --- connection.Connection and what it holds

const STATES: Record<api.ConnectionState, State> = {
  UP: State.UP,
  DOWN: State.DOWN,
  REFRESH_REQUESTED: State.REFRESH_REQUESTED,
  RESELECT_REQUESTED: State.RESELECT_REQUESTED,
};
const STATE_NAMES = new Map(Object.entries(STATES).map(([name, n]) => [n as number, name as api.ConnectionState]));

export function mechanismToProto(m: api.Mechanism): conn.Mechanism {
  return create(MechanismSchema, { cls: m.cls, type: m.type, parameters: { ...m.parameters } });
}

export function mechanismFromProto(m: conn.Mechanism): api.Mechanism {
  return compact({ cls: m.cls as api.Mechanism["cls"], type: m.type, parameters: nonEmptyMap(m.parameters) });
}

function routeToProto(r: api.Route): ctx.Route {
  return create(RouteSchema, { prefix: r.prefix, nextHop: r.nextHop ?? "" });
}

function routeFromProto(r: ctx.Route): api.Route {
  return compact({ prefix: r.prefix, nextHop: nonEmpty(r.nextHop) });
}

const FAMILIES = { IPV4: IpFamily_Family.IPV4, IPV6: IpFamily_Family.IPV6 } as const;

function extraPrefixRequestToProto(r: api.ExtraPrefixRequest): ctx.ExtraPrefixRequest {
  return create(ExtraPrefixRequestSchema, {
    addrFamily: r.addr_family && create(IpFamilySchema, { family: FAMILIES[r.addr_family.family ?? "IPV4"] }),
    prefixLen: r.prefix_len ?? 0,
    requiredNumber: r.required_number ?? 0,
    requestedNumber: r.requested_number ?? 0,
  });
}

function extraPrefixRequestFromProto(r: ctx.ExtraPrefixRequest): api.ExtraPrefixRequest {
  return compact({
    addr_family: r.addrFamily && { family: r.addrFamily.family === IpFamily_Family.IPV6 ? ("IPV6" as const) : ("IPV4" as const) },
    prefix_len: orZero(r.prefixLen),
    required_number: orZero(r.requiredNumber),
    requested_number: orZero(r.requestedNumber),
  });
}

function policyToProto(p: api.PolicyRoute): ctx.PolicyRoute {
  return create(PolicyRouteSchema, {
    from: p.from ?? "",
    proto: p.proto ?? "",
    dstPort: p.dst_port ?? "",
    srcPort: p.src_port ?? "",
    routes: (p.routes ?? []).map(routeToProto),
  });
}

function policyFromProto(p: ctx.PolicyRoute): api.PolicyRoute {
  return compact({
    from: nonEmpty(p.from),
    proto: nonEmpty(p.proto),
    dst_port: nonEmpty(p.dstPort),
    src_port: nonEmpty(p.srcPort),
    routes: nonEmptyList(p.routes.map(routeFromProto)),
  });
}

function ipContextToProto(c: api.IPContext): ctx.IPContext {
  return create(IPContextSchema, {
    srcIpAddrs: c.src_ip_addrs ?? [],
    dstIpAddrs: c.dst_ip_addrs ?? [],
    srcIpRequired: c.src_ip_required ?? false,
    dstIpRequired: c.dst_ip_required ?? false,
    srcRoutes: (c.src_routes ?? []).map(routeToProto),
    dstRoutes: (c.dst_routes ?? []).map(routeToProto),
    excludedPrefixes: c.excluded_prefixes ?? [],
    ipNeighbors: (c.ip_neighbors ?? []).map((n) => create(IpNeighborSchema, { ip: n.ip, hardwareAddress: n.hardware_address })),
    extraPrefixRequest: (c.extra_prefix_request ?? []).map(extraPrefixRequestToProto),
    extraPrefixes: c.extra_prefixes ?? [],
    policies: (c.policies ?? []).map(policyToProto),
  });
}

function ipContextFromProto(c: ctx.IPContext): api.IPContext {
  return compact({
    src_ip_addrs: nonEmptyList(c.srcIpAddrs),
    dst_ip_addrs: nonEmptyList(c.dstIpAddrs),
    src_ip_required: orFalse(c.srcIpRequired),
    dst_ip_required: orFalse(c.dstIpRequired),
    src_routes: nonEmptyList(c.srcRoutes.map(routeFromProto)),
    dst_routes: nonEmptyList(c.dstRoutes.map(routeFromProto)),
    excluded_prefixes: nonEmptyList(c.excludedPrefixes),
    ip_neighbors: nonEmptyList(c.ipNeighbors.map((n) => ({ ip: n.ip, hardware_address: n.hardwareAddress }))),
    extra_prefix_request: nonEmptyList(c.extraPrefixRequest.map(extraPrefixRequestFromProto)),
    extra_prefixes: nonEmptyList(c.extraPrefixes),
    policies: nonEmptyList(c.policies.map(policyFromProto)),
  });
}

function dnsContextToProto(c: NonNullable<api.ConnectionContext["dns_context"]>): ctx.DNSContext {
  return create(DNSContextSchema, {
    configs: (c.configs ?? []).map((d) => create(DNSConfigSchema, { dnsServerIps: d.dns_server_ips ?? [], searchDomains: d.search_domains ?? [] })),
  });
}

function dnsContextFromProto(c: ctx.DNSContext): NonNullable<api.ConnectionContext["dns_context"]> {
  return compact({
    configs: nonEmptyList(c.configs.map((d) => compact({ dns_server_ips: nonEmptyList(d.dnsServerIps), search_domains: nonEmptyList(d.searchDomains) }))),
  });
}

function ethernetContextToProto(e: api.EthernetContext): ctx.EthernetContext {
  return create(EthernetContextSchema, { srcMac: e.src_mac ?? "", dstMac: e.dst_mac ?? "", vlanTag: e.vlan_tag ?? 0 });
}

function ethernetContextFromProto(e: ctx.EthernetContext): api.EthernetContext {
  return compact({ src_mac: nonEmpty(e.srcMac), dst_mac: nonEmpty(e.dstMac), vlan_tag: orZero(e.vlanTag) });
}

export function contextToProto(c: api.ConnectionContext): ctx.ConnectionContext {
  return create(ConnectionContextSchema, {
    ipContext: c.ip_context && ipContextToProto(c.ip_context),
    dnsContext: c.dns_context && dnsContextToProto(c.dns_context),
    ethernetContext: c.ethernet_context && ethernetContextToProto(c.ethernet_context),
    extraContext: { ...c.extra_context },
    MTU: c.MTU ?? 0,
  });
}

export function contextFromProto(c: ctx.ConnectionContext): api.ConnectionContext {
  return compact({
    ip_context: c.ipContext && ipContextFromProto(c.ipContext),
    dns_context: c.dnsContext && dnsContextFromProto(c.dnsContext),
    ethernet_context: c.ethernetContext && ethernetContextFromProto(c.ethernetContext),
    extra_context: nonEmptyMap(c.extraContext),
    MTU: orZero(c.MTU),
  });
}

function segmentToProto(s: Partial<api.PathSegment>): conn.PathSegment {
  return create(PathSegmentSchema, {
    name: s.name ?? "",
    id: s.id ?? "",
    token: s.token ?? "",
    expires: timestampFromIso(s.expires),
    metrics: { ...s.metrics },
  });
}

function segmentFromProto(s: conn.PathSegment): api.PathSegment {
  return compact({
    name: s.name,
    id: s.id,
    token: nonEmpty(s.token),
    expires: s.expires && timestampToIso(s.expires),
    metrics: nonEmptyMap(s.metrics),
  });
}

function pathToProto(p: api.Path): conn.Path {
  return create(PathSchema, { index: p.index, pathSegments: p.path_segments.map(segmentToProto) });
}

function pathFromProto(p: conn.Path): api.Path {
  return { index: p.index, path_segments: p.pathSegments.map(segmentFromProto) };
}

export function connectionToProto(c: api.Connection): conn.Connection {
  return create(ConnectionSchema, {
    id: c.id,
    networkService: c.network_service,
    mechanism: c.mechanism && mechanismToProto(c.mechanism),
    context: c.context && contextToProto(c.context),
    labels: { ...c.labels },
    path: c.path && pathToProto(c.path),
    networkServiceEndpointName: c.network_service_endpoint_name ?? "",
    payload: c.payload ?? "",
    state: STATES[c.state ?? "UP"],
  });
}

/** The connection in api.ts terms. Its state is always set, UP being proto3's default. */
export function connectionFromProto(m: conn.Connection): api.Connection {
  return compact({
    id: m.id,
    network_service: m.networkService,
    mechanism: m.mechanism && mechanismFromProto(m.mechanism),
    context: m.context && contextFromProto(m.context),
    labels: nonEmptyMap(m.labels),
    path: m.path && pathFromProto(m.path),
    network_service_endpoint_name: nonEmpty(m.networkServiceEndpointName),
    payload: nonEmpty(m.payload) as api.Payload | undefined,
    state: STATE_NAMES.get(m.state),
  });
}

export function requestToProto(r: api.NetworkServiceRequest): NetworkServiceRequest {
  return create(NetworkServiceRequestSchema, {
    connection: connectionToProto(r.connection),
    mechanismPreferences: (r.mechanism_preferences ?? []).map(mechanismToProto),
  });
}

/** A request without a connection stays without one: the manager refuses it, saying so. */
export function requestFromProto(m: NetworkServiceRequest): api.NetworkServiceRequest {
  return compact({
    connection: (m.connection && connectionFromProto(m.connection)) as api.Connection,
    mechanism_preferences: nonEmptyList(m.mechanismPreferences.map(mechanismFromProto)),
  });
}

const EVENT_TYPES: Record<api.ConnectionEventType, ConnectionEventType> = {
  INITIAL_STATE_TRANSFER: ConnectionEventType.INITIAL_STATE_TRANSFER,
  UPDATE: ConnectionEventType.UPDATE,
  DELETE: ConnectionEventType.DELETE,
};
const EVENT_TYPE_NAMES = new Map(Object.entries(EVENT_TYPES).map(([name, n]) => [n as number, name as api.ConnectionEventType]));

export function connectionEventToProto(e: api.ConnectionEvent): conn.ConnectionEvent {
  return create(ConnectionEventSchema, {
    type: EVENT_TYPES[e.type],
    connections: Object.fromEntries(Object.entries(e.connections).map(([id, c]) => [id, connectionToProto(c)])),
  });
}

/** Undefined for an event type this version of NSM's API does not know. */
export function connectionEventFromProto(m: conn.ConnectionEvent): api.ConnectionEvent | undefined {
  const type = EVENT_TYPE_NAMES.get(m.type);
  if (!type) return undefined;
  return { type, connections: Object.fromEntries(Object.entries(m.connections).map(([id, c]) => [id, connectionFromProto(c)])) };
}

export function selectorToProto(s: api.MonitorScopeSelector): conn.MonitorScopeSelector {
  return create(MonitorScopeSelectorSchema, { pathSegments: (s.path_segments ?? []).map(segmentToProto), networkServices: s.network_services ?? [] });
}

export function selectorFromProto(m: conn.MonitorScopeSelector): api.MonitorScopeSelector {
  return compact({
    path_segments: nonEmptyList(m.pathSegments.map((s) => ({ name: s.name, id: s.id, token: s.token }))),
    network_services: nonEmptyList(m.networkServices),
  });
}

// --- registry.NetworkService and registry.NetworkServiceEndpoint

/** The metadata label naming the forwarder: NSM's forwarder selection compares a match's metadata
 *  labels with the forwarders' labels, and the forwarders here register label `type`. */
export const FORWARDER_TYPE_LABEL = "type";

/**
 * The service's binding as NSM can carry it: a match for every client (no source selector) whose
 * metadata labels name the forwarder type and whose one route selects by the service's section
 * for that forwarder, as `<forwarder>.<key>` entries (what the connection's extra_context gets).
 */
function bindingMatch(s: api.NetworkService): reg.Match {
  const section = serviceBinding(s);
  return create(MatchSchema, {
    metadata: create(MetadataSchema, { labels: { [FORWARDER_TYPE_LABEL]: s.forwarder } }),
    routes: Object.keys(section).length ? [create(DestinationSchema, { destinationSelector: section })] : [],
  });
}

const isBinding = (m: reg.Match): boolean => Object.keys(m.sourceSelector).length === 0 && m.metadata?.labels[FORWARDER_TYPE_LABEL] !== undefined;

/** The forwarder and its section ({"tungsten": {"virtual_network": ...}}) a binding match carries. */
function bindingOf(m: reg.Match | undefined): { forwarder: string; section?: Record<string, Record<string, string>> } {
  const forwarder = m?.metadata?.labels[FORWARDER_TYPE_LABEL] ?? "";
  const prefix = `${forwarder}.`;
  const entries = (m?.routes ?? []).flatMap((r) => Object.entries(r.destinationSelector)).filter(([k]) => k.startsWith(prefix));
  return entries.length ? { forwarder, section: { [forwarder]: Object.fromEntries(entries.map(([k, v]) => [k.slice(prefix.length), v])) } } : { forwarder };
}

/** One of the JSON API's free-form matches, read as NSM's Match in its JSON form. */
function matchToProto(m: unknown): reg.Match {
  const o = isRecord(m) ? m : {};
  const meta = isRecord(o.metadata) ? o.metadata : undefined;
  return create(MatchSchema, {
    sourceSelector: stringsOf(o.source_selector),
    routes: (Array.isArray(o.routes) ? o.routes : []).map((r) => {
      const d = isRecord(r) ? r : {};
      return create(DestinationSchema, { destinationSelector: stringsOf(d.destination_selector), weight: typeof d.weight === "number" ? d.weight : 0 });
    }),
    fallthrough: o.fallthrough === true,
    metadata: meta && create(MetadataSchema, { labels: stringsOf(meta.labels) }),
  });
}

function matchFromProto(m: reg.Match): api.Match {
  return compact({
    source_selector: nonEmptyMap(m.sourceSelector),
    routes: nonEmptyList(m.routes.map((r) => compact({ destination_selector: nonEmptyMap(r.destinationSelector), weight: orZero(r.weight) }))),
    fallthrough: orFalse(m.fallthrough),
    metadata: m.metadata && compact({ labels: nonEmptyMap(m.metadata.labels) }),
  });
}

export function serviceToProto(s: api.NetworkService): reg.NetworkService {
  return create(NetworkServiceSchema, { name: s.name, payload: s.payload, matches: [bindingMatch(s), ...(s.matches ?? []).map(matchToProto)], pathIds: s.path_ids ?? [] });
}

/** The record the registry validates: without a binding match, forwarder is "" and the registry says what is missing. */
export function serviceFromProto(m: reg.NetworkService): api.NetworkService {
  const binding = m.matches.find(isBinding);
  const { forwarder, section } = bindingOf(binding);
  return compact({
    name: m.name,
    payload: nonEmpty(m.payload) as api.Payload,
    matches: nonEmptyList(m.matches.filter((x) => x !== binding).map(matchFromProto)),
    forwarder,
    ...section,
    path_ids: nonEmptyList(m.pathIds),
  });
}

export function endpointToProto(e: api.NetworkServiceEndpoint): reg.NetworkServiceEndpoint {
  return create(NetworkServiceEndpointSchema, {
    name: e.name,
    networkServiceNames: e.network_service_names,
    networkServiceLabels: Object.fromEntries(
      Object.entries(e.network_service_labels ?? {}).map(([svc, l]) => [svc, create(NetworkServiceLabelsSchema, { labels: { ...l.labels } })]),
    ),
    url: e.url ?? "",
    expirationTime: timestampFromIso(e.expiration_time),
    pathIds: e.path_ids ?? [],
  });
}

export function endpointFromProto(m: reg.NetworkServiceEndpoint): api.NetworkServiceEndpoint {
  return compact({
    name: m.name,
    network_service_names: m.networkServiceNames,
    network_service_labels: nonEmptyMap(Object.fromEntries(Object.entries(m.networkServiceLabels).map(([svc, l]) => [svc, { labels: { ...l.labels } }]))),
    url: nonEmpty(m.url),
    expiration_time: m.expirationTime && timestampToIso(m.expirationTime),
    path_ids: nonEmptyList(m.pathIds),
  });
}

// --- why a connection is DOWN

/** The path segment metric where the manager's monitor says why a connection is DOWN. */
export const PROBLEM_METRIC = "tfmesh.problem";

/**
 * The connection as the manager's check found it: UP, or DOWN with `problem` in the metrics of the
 * manager's own segment, the one before the forwarder's (named by network_service_endpoint_name);
 * the last segment when there is no such one; stale reasons are dropped.
 */
export function withCheckedState(c: api.Connection, problem: string | undefined): api.Connection {
  const segments = (c.path?.path_segments ?? []).map(({ metrics, ...s }): api.PathSegment => {
    const { [PROBLEM_METRIC]: _stale, ...rest } = metrics ?? {};
    return Object.keys(rest).length ? { ...s, metrics: rest } : s;
  });
  if (problem !== undefined && segments.length > 0) {
    const forwarderAt = segments.findIndex((s) => s.name === c.network_service_endpoint_name);
    const at = forwarderAt > 0 ? forwarderAt - 1 : segments.length - 1;
    segments[at] = { ...segments[at]!, metrics: { ...segments[at]!.metrics, [PROBLEM_METRIC]: problem } };
  }
  return { ...c, state: problem === undefined ? "UP" : "DOWN", ...(c.path ? { path: { ...c.path, path_segments: segments } } : {}) };
}

/** Why the connection is DOWN, as the monitor reported it; undefined when it gave no reason. */
export function problemOf(c: api.Connection): string | undefined {
  return c.path?.path_segments.map((s) => s.metrics?.[PROBLEM_METRIC]).find((p) => p !== undefined);
}
