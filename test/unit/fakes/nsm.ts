// Fake NSM gRPC API (networkservicemesh/api v1.x, the generated services of wire/nsm/gen over a real
// HTTP/2 socket on an ephemeral loopback port): the NSMgr's Request, Close and MonitorConnections,
// the service registry's Register, Find and Unregister and the endpoint registry's Find, over a
// small in-memory model. As the lab's forwarders do, it chooses the interface name (the one
// requested, else the one the connection has, else the lowest nsm-<n> no other connection of the
// pod holds), and the monitor's INITIAL_STATE_TRANSFER answers each connection in the state its
// "check" finds (DOWN, with the reason in the manager's path segment metric tfmesh.problem, for
// an interface in lostInterfaces or detachedInterfaces). It refuses as the lab does (code and
// message; test/unit/fakes-lab.test.ts compares them): a bad connection id, a missing nodeName
// label, an unknown service, unregistering an unknown or used service. It is not in step with the
// lab in what the provider does not read: here
//  - the connection's own-subnet route has nextHop 10.1.1.254 (the lab's tungsten forwarder puts the
//    VN's own subnet on-link, without a nextHop, and only the VN's other subnets via the gateway);
//  - the context has no extra_context, MTU or gateway, and addresses count down from 10.1.1.250;
//  - service records are not validated, Find matches by name only and watch is not served;
//  - the forwarders registered are tungsten and kernel on each of K8S_NODES, without url or
//    expiration_time, and the registry of endpoints only answers Find.
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { forwarderEndpoint, NODE_LABEL, POD_LABEL } from "../../../wire/nsm/api.ts";
import type { Connection, NetworkService, NetworkServiceRequest } from "../../../wire/nsm/api.ts";
import { MonitorConnection } from "../../../wire/nsm/gen/connection_pb.ts";
import { NetworkService as NetworkServiceService } from "../../../wire/nsm/gen/networkservice_pb.ts";
import { NetworkServiceEndpointRegistry, NetworkServiceRegistry } from "../../../wire/nsm/gen/registry_pb.ts";
import {
  connectionEventToProto,
  connectionToProto,
  endpointFromProto,
  endpointToProto,
  requestFromProto,
  selectorFromProto,
  serviceFromProto,
  serviceToProto,
  withCheckedState,
} from "../../../wire/nsm/protoMapping.ts";
import { inScope } from "../../../nsm/monitorScope.ts";
import { K8S_NODES, randomMac } from "./mount.ts";

export type FakeConn = Connection & {
  mechanism: { cls: "LOCAL" | "REMOTE"; type: string; parameters: Record<string, string> };
  labels: Record<string, string>;
  state: "UP" | "DOWN";
  network_service_endpoint_name: string;
};

export interface NsmFakeState {
  services: Map<string, NetworkService>;
  connections: Map<string, FakeConn>;
  /** Every Request, in order, in api.ts terms. */
  requests: NetworkServiceRequest[];
  /** Interfaces ("<pod>/<name>") the fake kernel "lost", for drift tests: the fake forwarder's check finds them DOWN. */
  lostInterfaces: Set<string>;
  /** Interfaces the fake data plane no longer carries on their VN (their VMI was deleted in TF): DOWN as well. */
  detachedInterfaces: Set<string>;
}

export interface FakeNsm {
  /** Where it listens, as NSM_CONNECT_TO names it: tcp://127.0.0.1:<port>. */
  target: string;
  close(): Promise<void>;
}

/** What the lab's kubelet has the NSMgr do when a pod goes: close the pod's connections. */
export function closeConnectionsOfPod(state: NsmFakeState, pod: string): void {
  for (const [id, c] of state.connections) if (c.labels.podName === pod) state.connections.delete(id);
}

const CONNECTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);
const unknownService = (name: string) => new ConnectError(`network service "${name}" is not registered`, Code.NotFound);

function model(state: NsmFakeState) {
  const interfaceFor = (id: string, pod: string | undefined, requested: string | undefined) => {
    const held = new Set([...state.connections.values()].filter((c) => c.id !== id && c.labels.podName === pod).map((c) => c.mechanism.parameters.name));
    let n = 1;
    while (held.has(`nsm-${n}`)) n++;
    return requested || state.connections.get(id)?.mechanism.parameters.name || `nsm-${n}`;
  };
  const problem = (c: FakeConn): string | undefined => {
    const key = `${c.labels.podName}/${c.mechanism.parameters.name}`;
    if (state.lostInterfaces.has(key)) return `fake/check: interface ${c.mechanism.parameters.name} is missing in pod ${c.labels.podName}`;
    if (state.detachedInterfaces.has(key)) return `fake/check: the port of interface ${c.mechanism.parameters.name} is not on its virtual network`;
    return undefined;
  };

  const request = (req: NetworkServiceRequest): FakeConn => {
    state.requests.push(req);
    const r = req.connection;
    if (!r) throw invalid("the request needs a connection");
    if (!CONNECTION_ID.test(r.id)) throw invalid(`connection id must be 1..128 characters from [A-Za-z0-9._-], got ${JSON.stringify(r.id)}`);
    if (!r.network_service) throw invalid(`connection ${r.id}: network_service is required`);
    const node = r.labels?.[NODE_LABEL];
    if (!node) throw invalid(`connection ${r.id}: label ${NODE_LABEL} (the client's node) is required`);
    const service = state.services.get(r.network_service);
    if (!service) throw unknownService(r.network_service);
    const existing = state.connections.get(r.id);
    const n = existing ? 0 : state.connections.size;
    const preferred = req.mechanism_preferences?.[0] ?? { cls: "LOCAL" as const, type: "KERNEL" };
    const name = interfaceFor(r.id, r.labels?.[POD_LABEL], preferred.parameters?.name);
    const endpoint = `${service.forwarder}@${node}`;
    const conn: FakeConn = {
      id: r.id,
      network_service: r.network_service,
      mechanism: { cls: preferred.cls, type: preferred.type, parameters: { ...preferred.parameters, name } },
      labels: { ...r.labels },
      context: existing?.context ?? {
        ip_context: { src_ip_addrs: [`10.1.1.${250 - n}/24`], src_routes: [{ prefix: "10.1.1.0/24", nextHop: "10.1.1.254" }] },
        ethernet_context: { src_mac: randomMac() },
      },
      // The client's segment first, as NSM clients send theirs (NsmGrpcClient: "tfmesh-client").
      path: { index: 0, path_segments: [...(r.path?.path_segments.slice(0, 1) ?? []), { name: `nsmgr@${node}`, id: r.id }, { name: endpoint, id: r.id }] },
      network_service_endpoint_name: endpoint,
      payload: service.payload,
      state: "UP",
    };
    state.connections.set(conn.id, conn);
    state.lostInterfaces.delete(`${conn.labels.podName}/${name}`);
    state.detachedInterfaces.delete(`${conn.labels.podName}/${name}`);
    return conn;
  };

  const unregister = (name: string) => {
    if (!state.services.has(name)) throw unknownService(name);
    const users = [...state.connections.values()].filter((c) => c.network_service === name).map((c) => c.id);
    if (users.length) throw new ConnectError(`network service "${name}" is used by connection(s) ${users.join(", ")}; close them first`, Code.FailedPrecondition);
    state.services.delete(name);
  };

  const checked = (c: FakeConn): Connection => withCheckedState(c, problem(c));
  return { request, unregister, checked };
}

export async function startFakeNsm(state: NsmFakeState): Promise<FakeNsm> {
  const m = model(state);
  const networkService: ServiceImpl<typeof NetworkServiceService> = {
    request: (req) => connectionToProto(m.request(requestFromProto(req))),
    close: (c) => {
      state.connections.delete(c.id);
      return {};
    },
  };
  const monitor: ServiceImpl<typeof MonitorConnection> = {
    async *monitorConnections(selector, ctx) {
      const scope = selectorFromProto(selector);
      const initial = [...state.connections.values()].filter((c) => inScope(c, scope)).map(m.checked);
      yield connectionEventToProto({ type: "INITIAL_STATE_TRANSFER", connections: Object.fromEntries(initial.map((c) => [c.id, c])) });
      // No changes are streamed: the stream stays open, as NSM's does, until the client leaves.
      await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener("abort", () => resolve(), { once: true })));
    },
  };
  const services: ServiceImpl<typeof NetworkServiceRegistry> = {
    register: (s) => {
      const record = serviceFromProto(s);
      state.services.set(record.name, record);
      return serviceToProto(record);
    },
    async *find(query) {
      const name = query.networkService?.name ?? "";
      for (const s of state.services.values()) if (!name || s.name === name) yield { networkService: serviceToProto(s), deleted: false };
    },
    unregister: (s) => {
      m.unregister(s.name);
      return {};
    },
  };
  const endpoints: ServiceImpl<typeof NetworkServiceEndpointRegistry> = {
    register: (e) => endpointToProto(endpointFromProto(e)),
    async *find(query) {
      const wanted = query.networkServiceEndpoint?.networkServiceNames ?? [];
      for (const node of K8S_NODES) {
        for (const type of ["kernel", "tungsten"]) {
          const e = forwarderEndpoint(type, node);
          if (wanted.every((n) => e.network_service_names.includes(n))) yield { networkServiceEndpoint: endpointToProto(e), deleted: false };
        }
      }
    },
    unregister: () => ({}),
  };
  const handler = connectNodeAdapter({
    grpc: true,
    connect: false,
    grpcWeb: false,
    routes: (router) => {
      router.service(NetworkServiceService, networkService);
      router.service(MonitorConnection, monitor);
      router.service(NetworkServiceRegistry, services);
      router.service(NetworkServiceEndpointRegistry, endpoints);
    },
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    target: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}
