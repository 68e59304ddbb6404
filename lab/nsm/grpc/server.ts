// NSM's gRPC API (networkservicemesh/api v1.x) of the lab, beside its JSON API: the manager's
// NetworkService and MonitorConnection, the two registries and gRPC health, over plain gRPC (HTTP/2
// without TLS, "h2c"), on a TCP port or a unix socket. See wire/nsm/proto/README.md.
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

export interface NsmGrpcServerOptions {
  registry: Registry;
  manager: Manager;
}

/** An HTTP/2 server that, like http.Server, can drop its connections so close() need not wait for open streams. */
export interface NsmGrpcServer extends http2.Http2Server {
  /** Ends the open streams (a watch, a monitor) and drops every connection. */
  closeAllConnections(): void;
}

export function createNsmGrpcServer({ registry, manager }: NsmGrpcServerOptions): NsmGrpcServer {
  const shutdown = new AbortController();
  const served = [NetworkService, MonitorConnection, NetworkServiceRegistry, NetworkServiceEndpointRegistry].map((s) => s.typeName);
  const handler = connectNodeAdapter({
    // gRPC only: what NSM's components speak.
    grpc: true,
    connect: false,
    grpcWeb: false,
    shutdownSignal: shutdown.signal,
    routes: (router) => {
      router.service(NetworkService, networkServiceImpl(manager));
      router.service(MonitorConnection, monitorImpl(manager));
      router.service(NetworkServiceRegistry, serviceRegistryImpl(registry, manager));
      router.service(NetworkServiceEndpointRegistry, endpointRegistryImpl(registry));
      router.service(Health, healthImpl([...served, Health.typeName]));
    },
  });
  const server = http2.createServer(handler);
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
