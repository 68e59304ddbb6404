// The forwarder process's gRPC server (networkservicemesh/api v1.x over h2c): NetworkService
// Request/Close, MonitorConnection and grpc.health.v1, as the node's NSMgr and the kubelet's
// probes call them. MonitorConnections answers INITIAL_STATE_TRANSFER with each connection in
// scope in the state the forwarder's elements find it in now (UP, or DOWN with the reason in the
// forwarder's path segment's metrics, key `tfmesh.problem`), then each UPDATE and DELETE.
import http2 from "node:http2";
import fs from "node:fs";
import net from "node:net";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Connection } from "../../wire/nsm/api.ts";
import { MonitorConnection } from "../../wire/nsm/gen/connection_pb.ts";
import { Health } from "../../wire/nsm/gen/grpc/health/v1/health_pb.ts";
import { NetworkService } from "../../wire/nsm/gen/networkservice_pb.ts";
import { parseGrpcTarget } from "../../wire/nsm/grpcTransport.ts";
import { connectionEventToProto, connectionFromProto, connectionToProto, requestFromProto, selectorFromProto } from "../../wire/nsm/protoMapping.ts";
import type { ConnectionChange } from "../manager.ts";
import { inScope } from "../monitorScope.ts";
import { ChangeStream } from "../grpc/changeStream.ts";
import { healthImpl } from "../grpc/health.ts";
import { toConnectError, unary } from "../grpc/status.ts";
import type { ForwarderService } from "./service.ts";

export interface ForwarderGrpcServer {
  server: http2.Http2Server;
  /** Listens (also) on `target` (unix:///path, replacing a stale socket file, or tcp://host:port); answers the port for tcp. */
  listen(target: string): Promise<number | undefined>;
  /** Ends open streams, drops connections, stops listening. */
  close(): Promise<void>;
}

const byId = (connections: Connection[]) => Object.fromEntries(connections.map((c) => [c.id, c]));

function networkServiceImpl(service: ForwarderService): ServiceImpl<typeof NetworkService> {
  return {
    request: unary(async (req) => connectionToProto(await service.request(requestFromProto(req)))),
    close: unary(async (c) => {
      await service.close(connectionFromProto(c));
      return {};
    }),
  };
}

function monitorImpl(service: ForwarderService): ServiceImpl<typeof MonitorConnection> {
  return {
    monitorConnections: (selector, ctx) =>
      (async function* () {
        try {
          const scope = selectorFromProto(selector);
          const changes = new ChangeStream<ConnectionChange>((push) => service.watch(push), ctx.signal);
          const initial = await Promise.all(service.list().filter((c) => inScope(c, scope)).map((c) => service.checked(c)));
          yield connectionEventToProto({ type: "INITIAL_STATE_TRANSFER", connections: byId(initial) });
          for await (const { type, connection } of changes) {
            if (inScope(connection, scope)) yield connectionEventToProto({ type, connections: byId([connection]) });
          }
        } catch (err) {
          throw toConnectError(err);
        }
      })(),
  };
}

/** A listener on a gRPC target that hands its connections to `server` (so one server can listen on a socket and a health port). */
async function listenOn(server: http2.Http2Server, target: string): Promise<net.Server> {
  const { baseUrl, socketPath } = parseGrpcTarget(target);
  if (socketPath) fs.rmSync(socketPath, { force: true });
  const url = new URL(baseUrl);
  const listener = net.createServer((socket) => server.emit("connection", socket));
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    const done = () => {
      listener.off("error", reject);
      resolve();
    };
    if (socketPath) listener.listen(socketPath, done);
    else listener.listen(Number(url.port), url.hostname, done);
  });
  return listener;
}

export function createForwarderGrpcServer(service: ForwarderService): ForwarderGrpcServer {
  const shutdown = new AbortController();
  const served = [NetworkService, MonitorConnection].map((s) => s.typeName);
  const handler = connectNodeAdapter({
    grpc: true,
    connect: false,
    grpcWeb: false,
    shutdownSignal: shutdown.signal,
    routes: (router) => {
      router.service(NetworkService, networkServiceImpl(service));
      router.service(MonitorConnection, monitorImpl(service));
      router.service(Health, healthImpl([...served, Health.typeName]));
    },
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  const listeners: net.Server[] = [];
  return {
    server,
    async listen(target) {
      const listener = await listenOn(server, target);
      listeners.push(listener);
      const address = listener.address();
      return typeof address === "object" && address ? address.port : undefined;
    },
    async close() {
      shutdown.abort();
      for (const s of sessions) s.destroy();
      // Stop listening (a unix socket file goes at once); the connections handed over were just destroyed.
      for (const l of listeners.splice(0)) l.close();
    },
  };
}
