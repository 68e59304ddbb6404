// NSM's gRPC messages on the wire: the generated code writes NSM's field numbers and wire types
// (each tag byte below is field number << 3 | wire type, worked out by hand from
// ../shared/reference/nsm.md), and the mapping to api.ts keeps every field a connection, a service
// or an endpoint carries.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import type { Connection, NetworkService, NetworkServiceEndpoint } from "../../wire/nsm/api.ts";
import { ConnectionEventSchema, ConnectionEventType, ConnectionSchema, MonitorScopeSelectorSchema, State } from "../../wire/nsm/gen/connection_pb.ts";
import { ConnectionContextSchema, IPContextSchema, RouteSchema } from "../../wire/nsm/gen/connectioncontext_pb.ts";
import { NetworkServiceRequestSchema } from "../../wire/nsm/gen/networkservice_pb.ts";
import { NetworkServiceEndpointSchema, NetworkServiceSchema } from "../../wire/nsm/gen/registry_pb.ts";
import {
  connectionFromProto,
  connectionToProto,
  endpointFromProto,
  endpointToProto,
  serviceFromProto,
  serviceToProto,
} from "../../wire/nsm/protoMapping.ts";

const LEN = 2;
const VARINT = 0;
const tag = (field: number, wireType: number) => (field << 3) | wireType;
const text = (s: string) => [...Buffer.from(s)];
const bytes = (b: Uint8Array) => [...b];

describe("NSM's field numbers on the wire", () => {
  it("connection.Connection: id 1, context 4, network_service_endpoint_name 7, payload 8, state 9", () => {
    const c = connectionToProto({ id: "c1", network_service: "", context: { MTU: 1450 }, network_service_endpoint_name: "x", payload: "IP", state: "DOWN" });
    // MTU 1450 is varint aa 0b (1450 = 11 * 128 + 42).
    expect(bytes(toBinary(ConnectionSchema, c))).toEqual([
      ...[tag(1, LEN), 2, ...text("c1")],
      ...[tag(4, LEN), 3, tag(5, VARINT), 0xaa, 0x0b],
      ...[tag(7, LEN), 1, ...text("x")],
      ...[tag(8, LEN), 2, ...text("IP")],
      ...[tag(9, VARINT), State.DOWN],
    ]);
    expect([tag(1, LEN), tag(4, LEN), tag(7, LEN), tag(8, LEN), tag(9, VARINT)]).toEqual([0x0a, 0x22, 0x3a, 0x42, 0x48]);
  });

  it("connection.Connection: network_service 2, mechanism 3 (cls 1, type 2, parameters 3), labels 5, path 6", () => {
    const c = connectionToProto({
      id: "",
      network_service: "s",
      mechanism: { cls: "LOCAL", type: "KERNEL", parameters: { k: "v" } },
      labels: { a: "b" },
      path: { index: 1, path_segments: [{ name: "n", id: "i" }] },
    });
    const entry = (k: string, v: string) => [tag(1, LEN), 1, ...text(k), tag(2, LEN), 1, ...text(v)];
    expect(bytes(toBinary(ConnectionSchema, c))).toEqual([
      ...[tag(2, LEN), 1, ...text("s")],
      ...[tag(3, LEN), 23, tag(1, LEN), 5, ...text("LOCAL"), tag(2, LEN), 6, ...text("KERNEL"), tag(3, LEN), 6, ...entry("k", "v")],
      ...[tag(5, LEN), 6, ...entry("a", "b")],
      ...[tag(6, LEN), 10, tag(1, VARINT), 1, tag(2, LEN), 6, tag(1, LEN), 1, ...text("n"), tag(2, LEN), 1, ...text("i")],
    ]);
  });

  it("connectioncontext: ip_context 1 (src_ip_addrs 1, src_routes 5), extra_context 4; Route prefix 1, nextHop 2", () => {
    const route = toBinary(RouteSchema, { $typeName: "connectioncontext.Route", prefix: "p", nextHop: "h" });
    expect(bytes(route)).toEqual([tag(1, LEN), 1, ...text("p"), tag(2, LEN), 1, ...text("h")]);
    const ip = toBinary(IPContextSchema, fromBinary(IPContextSchema, new Uint8Array([tag(1, LEN), 1, ...text("a"), tag(5, LEN), route.length, ...route])));
    expect(connectionFromProto(fromBinary(ConnectionSchema, new Uint8Array([tag(4, LEN), ip.length + 2, tag(1, LEN), ip.length, ...ip]))).context).toEqual({
      ip_context: { src_ip_addrs: ["a"], src_routes: [{ prefix: "p", nextHop: "h" }] },
    });
    const ctx = toBinary(ConnectionContextSchema, connectionToProto({ id: "", network_service: "", context: { extra_context: { k: "v" } } }).context!);
    expect(bytes(ctx)).toEqual([tag(4, LEN), 6, tag(1, LEN), 1, ...text("k"), tag(2, LEN), 1, ...text("v")]);
  });

  it("networkservice.NetworkServiceRequest: connection 1, mechanism_preferences 2", () => {
    const r = fromBinary(NetworkServiceRequestSchema, new Uint8Array([tag(1, LEN), 3, tag(1, LEN), 1, ...text("c"), tag(2, LEN), 8, tag(2, LEN), 6, ...text("KERNEL")]));
    expect(r.connection?.id).toBe("c");
    expect(r.mechanismPreferences.map((m) => m.type)).toEqual(["KERNEL"]);
  });

  it("ConnectionEvent: type 1, connections 2; MonitorScopeSelector: path_segments 1, network_services 2", () => {
    const e = fromBinary(ConnectionEventSchema, new Uint8Array([tag(1, VARINT), 2, tag(2, LEN), 7, tag(1, LEN), 1, ...text("c"), tag(2, LEN), 2, tag(1, LEN), 0]));
    expect(e.type).toBe(ConnectionEventType.DELETE);
    expect(Object.keys(e.connections)).toEqual(["c"]);
    const s = fromBinary(MonitorScopeSelectorSchema, new Uint8Array([tag(1, LEN), 3, tag(1, LEN), 1, ...text("n"), tag(2, LEN), 1, ...text("s")]));
    expect([s.pathSegments[0]?.name, s.networkServices]).toEqual(["n", ["s"]]);
  });

  it("registry.NetworkServiceEndpoint: name 1, network_service_names 2, url 4, expiration_time 5, path_ids 7", () => {
    const e = endpointToProto({ name: "f", network_service_names: ["forwarder"], url: "u", expiration_time: new Date(5000).toISOString() });
    expect(bytes(toBinary(NetworkServiceEndpointSchema, { ...e, pathIds: ["p"] }))).toEqual([
      ...[tag(1, LEN), 1, ...text("f")],
      ...[tag(2, LEN), 9, ...text("forwarder")],
      ...[tag(4, LEN), 1, ...text("u")],
      ...[tag(5, LEN), 2, tag(1, VARINT), 5],
      ...[tag(7, LEN), 1, ...text("p")],
    ]);
  });

  it("registry.NetworkService: name 1, payload 2, matches 3 (metadata 4: labels 1)", () => {
    const s = toBinary(NetworkServiceSchema, serviceToProto({ name: "n", payload: "IP", forwarder: "k" }));
    const typeLabel = [tag(1, LEN), 4, ...text("type"), tag(2, LEN), 1, ...text("k")];
    expect(bytes(s)).toEqual([
      ...[tag(1, LEN), 1, ...text("n")],
      ...[tag(2, LEN), 2, ...text("IP")],
      ...[tag(3, LEN), 13, tag(4, LEN), 11, tag(1, LEN), 9, ...typeLabel],
    ]);
  });
});

describe("mapping between the messages and api.ts", () => {
  const connection: Connection = {
    id: "conn-1",
    network_service: "red",
    mechanism: { cls: "LOCAL", type: "KERNEL", parameters: { name: "nsm-0", netnsName: "x-pod-p", inodeURL: "file:///var/run/netns/x-pod-p" } },
    context: {
      ip_context: {
        src_ip_addrs: ["10.1.1.5/24"],
        dst_ip_addrs: ["10.1.1.1/24"],
        src_ip_required: true,
        src_routes: [{ prefix: "10.1.1.0/24" }, { prefix: "10.2.0.0/16", nextHop: "10.1.1.1" }],
        excluded_prefixes: ["10.96.0.0/12"],
        ip_neighbors: [{ ip: "10.1.1.1", hardware_address: "02:00:00:00:00:01" }],
        extra_prefix_request: [{ addr_family: { family: "IPV6" }, prefix_len: 64, required_number: 1 }],
        extra_prefixes: ["10.9.0.0/24"],
        policies: [{ from: "10.1.1.5/32", proto: "6", dst_port: "80", routes: [{ prefix: "0.0.0.0/0", nextHop: "10.1.1.1" }] }],
      },
      dns_context: { configs: [{ dns_server_ips: ["10.0.0.10"], search_domains: ["svc.cluster.local"] }] },
      ethernet_context: { src_mac: "02:00:00:00:00:05", vlan_tag: 7 },
      extra_context: { "tungsten.virtual_network": "default-domain:admin:red" },
      MTU: 1450,
    },
    labels: { nodeName: "k8s-1", podName: "p" },
    path: { index: 0, path_segments: [{ name: "nsmgr@k8s-1", id: "conn-1", token: "t", expires: "2030-01-01T00:00:00.000Z", metrics: { m: "1" } }] },
    network_service_endpoint_name: "tungsten@k8s-1",
    payload: "ETHERNET",
    state: "UP",
  };

  it("keeps every field of a connection both ways", () => {
    expect(connectionFromProto(fromBinary(ConnectionSchema, toBinary(ConnectionSchema, connectionToProto(connection))))).toEqual(connection);
  });

  it("carries a service's forwarder and its section in the first match, and the other matches after it", () => {
    const red: NetworkService = {
      name: "red",
      payload: "ETHERNET",
      forwarder: "tungsten",
      tungsten: { virtual_network: "default-domain:admin:red" },
      matches: [{ source_selector: { app: "a" }, routes: [{ destination_selector: { x: "y" }, weight: 2 }], fallthrough: true, metadata: { labels: { p2p: "true" } } }],
    };
    const m = serviceToProto(red);
    expect(m.matches[0]?.metadata?.labels).toEqual({ type: "tungsten" });
    expect(m.matches[0]?.routes[0]?.destinationSelector).toEqual({ "tungsten.virtual_network": "default-domain:admin:red" });
    expect(serviceFromProto(fromBinary(NetworkServiceSchema, toBinary(NetworkServiceSchema, m)))).toEqual(red);
    expect(serviceFromProto(serviceToProto({ name: "k", payload: "IP", forwarder: "kernel", kernel: { cidr: "10.0.0.0/24" } }))).toEqual({
      name: "k",
      payload: "IP",
      forwarder: "kernel",
      kernel: { cidr: "10.0.0.0/24" },
    });
  });

  it("leaves forwarder empty for a service without a binding match, for the registry to refuse", () => {
    expect(serviceFromProto(serviceToProto({ name: "n", payload: "IP", forwarder: "" }))).toMatchObject({ forwarder: "" });
    expect(serviceFromProto(fromBinary(NetworkServiceSchema, new Uint8Array([tag(1, LEN), 1, ...text("n")])))).toEqual({ name: "n", forwarder: "" });
  });

  it("keeps an endpoint's labels, url and expiration time", () => {
    const e: NetworkServiceEndpoint = {
      name: "tungsten@k8s-1",
      network_service_names: ["forwarder"],
      network_service_labels: { forwarder: { labels: { type: "tungsten", node: "k8s-1" } } },
      url: "tcp://127.0.0.1:5003",
      expiration_time: "2030-01-01T00:00:01.250Z",
    };
    const m = endpointToProto(e);
    expect(m.expirationTime).toEqual(timestampFromMs(Date.parse(e.expiration_time!)));
    expect(endpointFromProto(fromBinary(NetworkServiceEndpointSchema, toBinary(NetworkServiceEndpointSchema, m)))).toEqual(e);
  });
});
