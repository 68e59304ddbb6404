// NSM's gRPC API (networkservicemesh/api v1.x) of the lab, beside its JSON API: the manager's
// NetworkService and MonitorConnection, the two registries and gRPC health, on a TCP port or a
// unix socket: mTLS with the lab's SPIRE SVIDs, as NSM's components speak it (plain h2c only for
// in-process tests without SPIRE). See wire/nsm/proto/README.md.
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { MonitorConnection } from "../../../wire/nsm/gen/connection_pb.ts";
import { Health } from "../../../wire/nsm/gen/grpc/health/v1/health_pb.ts";
import { NetworkService } from "../../../wire/nsm/gen/networkservice_pb.ts";
import { NetworkServiceEndpointRegistry, NetworkServiceRegistry } from "../../../wire/nsm/gen/registry_pb.ts";
import type { Manager } from "../../../nsm/manager.ts";
import type { Registry } from "../../../nsm/registry.ts";
import { healthImpl } from "../../../nsm/grpc/health.ts";
import { monitorImpl } from "./monitor.ts";
import { networkServiceImpl } from "./networkService.ts";
import { endpointRegistryImpl, serviceRegistryImpl } from "./registry.ts";
import { createGrpcHttp2Server, peerContextValues } from "../../../nsm/grpc/secureServer.ts";
import type { GrpcSecurity } from "../../../nsm/grpc/secureServer.ts";

export interface NsmGrpcServerOptions {
  registry: Registry;
  manager: Manager;
  /** mTLS and path tokens; without it plain h2c. */
  security?: GrpcSecurity;
}

/** An HTTP/2 server that, like http.Server, can drop its connections so close() need not wait for open streams. */
export interface NsmGrpcServer extends http2.Http2Server {
  /** Ends the open streams (a watch, a monitor) and drops every connection. */
  closeAllConnections(): void;
}

export function createNsmGrpcServer({ registry, manager, security }: NsmGrpcServerOptions): NsmGrpcServer {
  const shutdown = new AbortController();
  const served = [NetworkService, MonitorConnection, NetworkServiceRegistry, NetworkServiceEndpointRegistry].map((s) => s.typeName);
  const handler = connectNodeAdapter({
    // gRPC only: what NSM's components speak.
    grpc: true,
    connect: false,
    grpcWeb: false,
    shutdownSignal: shutdown.signal,
    contextValues: peerContextValues,
    routes: (router) => {
      router.service(NetworkService, networkServiceImpl(manager, security));
      router.service(MonitorConnection, monitorImpl(manager));
      router.service(NetworkServiceRegistry, serviceRegistryImpl(registry, manager, security));
      router.service(NetworkServiceEndpointRegistry, endpointRegistryImpl(registry, security));
      router.service(Health, healthImpl([...served, Health.typeName]));
    },
  });
  const server = createGrpcHttp2Server(handler, security);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return Object.assign(server, {
    closeAllConnections() {
      shutdown.abort();
      for (const s of sessions) s.destroy();
    },
  });
}
