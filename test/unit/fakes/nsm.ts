// Fake NSM HTTP API (registry and manager): just enough for the NSM client and the NetworkService
// and PodAttachment providers. As the lab's forwarders do, it chooses the interface name (the one
// requested, else the one the connection has, else the lowest nsm-<n> no other connection of the
// pod holds) and answers GET /nsmgr/connections/<id> with the state its "check" finds (DOWN for an
// interface in lostInterfaces or detachedInterfaces). It is not in step with the lab's
// (lab/nsm/server.ts over nsm/) in what PodAttachment does not read: here
//  - the connection's own-subnet route has nextHop 10.1.1.254 (the lab's tungsten forwarder puts the
//    VN's own subnet on-link, without a nextHop, and only the VN's other subnets via the gateway);
//  - network_service_endpoint_name is "tungsten@k8s-1" whatever the service's forwarder;
//  - the answer's mechanism is the request's first preference with the interface name filled in (the
//    lab also fills in inodeURL and netnsName), and path, payload and extra_context are missing;
//  - nothing is validated (the lab: 400 for a bad id, a missing nodeName label, a bad service
//    record, a forwarder not registered on the node) and 404/409 messages are not the lab's
//    ("network service \"x\" is not registered", "connection \"x\" is not known");
//  - the endpoint list ignores ?network_service= and its records carry no url or expiration_time.
import type http from "node:http";
import { ApiError, createJsonServer, objectBody } from "../../../lib/http/server.ts";
import { randomMac } from "./mount.ts";

export interface FakeConn {
  id: string;
  network_service: string;
  mechanism: { cls: string; type: string; parameters: Record<string, string> };
  labels: Record<string, string>;
  context: unknown;
  state: string;
  network_service_endpoint_name: string;
}

export interface NsmFakeState {
  services: Map<string, Record<string, unknown>>;
  connections: Map<string, FakeConn>;
  /** Every request body, in order. */
  requests: unknown[];
  /** Interfaces ("<pod>/<name>") the fake kernel "lost", for drift tests: the fake forwarder's check finds them DOWN. */
  lostInterfaces: Set<string>;
  /** Interfaces the fake data plane no longer carries on their VN (their VMI was deleted in TF): DOWN as well. */
  detachedInterfaces: Set<string>;
}

/** What the lab's manager does when the pod runtime deletes a pod: close the pod's connections. */
export function closeConnectionsOfPod(state: NsmFakeState, pod: string): void {
  for (const [id, c] of state.connections) if (c.labels.podName === pod) state.connections.delete(id);
}

export function fakeNsm(state: NsmFakeState): http.Server {
  const interfaceFor = (id: string, pod: string | undefined, requested: string | undefined) => {
    const held = new Set([...state.connections.values()].filter((c) => c.id !== id && c.labels.podName === pod).map((c) => c.mechanism.parameters.name));
    let n = 1;
    while (held.has(`nsm-${n}`)) n++;
    return requested || state.connections.get(id)?.mechanism.parameters.name || `nsm-${n}`;
  };
  const broken = (c: FakeConn) => [state.lostInterfaces, state.detachedInterfaces].some((s) => s.has(`${c.labels.podName}/${c.mechanism.parameters.name}`));
  return createJsonServer({
    name: "fake-nsm",
    routes: [
      {
        method: "POST",
        pattern: "/registry/network-services",
        handler: (req) => {
          const ns = objectBody(req);
          state.services.set(ns.name as string, ns);
          return { body: ns };
        },
      },
      { method: "GET", pattern: "/registry/network-services", handler: () => ({ body: [...state.services.values()] }) },
      {
        method: "GET",
        pattern: "/registry/network-services/:name",
        handler: (req) => {
          const ns = state.services.get(req.params.name!);
          if (!ns) throw new ApiError(404, `network service ${req.params.name} not found`);
          return { body: ns };
        },
      },
      {
        method: "DELETE",
        pattern: "/registry/network-services/:name",
        handler: (req) => {
          if ([...state.connections.values()].some((c) => c.network_service === req.params.name)) throw new ApiError(409, "connections still use it");
          if (!state.services.delete(req.params.name!)) throw new ApiError(404, "not found");
          return { body: {} };
        },
      },
      {
        method: "GET",
        pattern: "/registry/network-service-endpoints",
        handler: () => ({
          body: ["tungsten", "kernel"].map((type) => ({
            name: `${type}@k8s-1`,
            network_service_names: ["forwarder"],
            network_service_labels: { forwarder: { labels: { type, node: "k8s-1" } } },
          })),
        }),
      },
      {
        method: "POST",
        pattern: "/nsmgr/request",
        handler: (req) => {
          state.requests.push(req.body);
          const r = objectBody(req) as { connection: { id: string; network_service: string; labels: Record<string, string> }; mechanism_preferences: FakeConn["mechanism"][] };
          if (!state.services.has(r.connection.network_service)) throw new ApiError(404, `network service ${r.connection.network_service} not found`);
          const existing = state.connections.get(r.connection.id);
          const n = existing ? 0 : state.connections.size;
          const preferred = r.mechanism_preferences[0]!;
          const name = interfaceFor(r.connection.id, r.connection.labels.podName, preferred.parameters.name);
          const conn: FakeConn = {
            id: r.connection.id,
            network_service: r.connection.network_service,
            mechanism: { ...preferred, parameters: { ...preferred.parameters, name } },
            labels: r.connection.labels,
            context: (existing?.context as object) ?? {
              ip_context: { src_ip_addrs: [`10.1.1.${250 - n}/24`], src_routes: [{ prefix: "10.1.1.0/24", nextHop: "10.1.1.254" }] },
              ethernet_context: { src_mac: randomMac() },
            },
            state: "UP",
            network_service_endpoint_name: "tungsten@k8s-1",
          };
          state.connections.set(conn.id, conn);
          state.lostInterfaces.delete(`${conn.labels.podName}/${conn.mechanism.parameters.name}`);
          state.detachedInterfaces.delete(`${conn.labels.podName}/${conn.mechanism.parameters.name}`);
          return { body: conn };
        },
      },
      {
        method: "POST",
        pattern: "/nsmgr/close",
        handler: (req) => {
          state.connections.delete((objectBody(req) as { id: string }).id);
          return { body: {} };
        },
      },
      { method: "GET", pattern: "/nsmgr/connections", handler: () => ({ body: [...state.connections.values()] }) },
      {
        method: "GET",
        pattern: "/nsmgr/connections/:id",
        handler: (req) => {
          const c = state.connections.get(req.params.id!);
          if (!c) throw new ApiError(404, "not found");
          return { body: { ...c, state: broken(c) ? "DOWN" : "UP" } };
        },
      },
    ],
  });
}
