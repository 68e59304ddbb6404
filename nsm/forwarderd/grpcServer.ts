// The forwarder process's gRPC server (networkservicemesh/api v1.x): NetworkService Request/Close
// and MonitorConnection for the node's NSMgr, mTLS with the forwarder's SVID and NSM's path-token
// policies (nsm/grpc/callSecurity.ts), and grpc.health.v1; the health port, which the kubelet's
// gRPC probe calls without TLS, serves health only. MonitorConnections answers INITIAL_STATE_TRANSFER with each connection in
// scope in the state the forwarder's elements find it in now (UP, or DOWN with the reason in the
// forwarder's path segment's metrics, key `tfmesh.problem`), then each UPDATE and DELETE.
import { traceIfEnabled } from "../../lib/trace.ts";
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
import { acceptClose, acceptRequest, signAnswer } from "../grpc/callSecurity.ts";
import type { HopOptions } from "../grpc/callSecurity.ts";
import { createGrpcHttp2Server, peerContextValues } from "../grpc/secureServer.ts";
import type { GrpcSecurity } from "../grpc/secureServer.ts";

export interface ForwarderGrpcServer {
  server: http2.Http2Server;
  /** Listens (also) on `target` (unix:///path, replacing a stale socket file, or tcp://host:port); answers the port for tcp. */
  listen(target: string): Promise<number | undefined>;
  /** Serves grpc.health.v1 alone, without TLS, on `target` (the kubelet's gRPC probe). */
  listenHealth(target: string): Promise<number | undefined>;
  /** Ends open streams, drops connections, stops listening. */
  close(): Promise<void>;
}

const byId = (connections: Connection[]) => Object.fromEntries(connections.map((c) => [c.id, c]));

function networkServiceImpl(service: ForwarderService, security: GrpcSecurity | undefined): ServiceImpl<typeof NetworkService> {
  const hop: HopOptions = { security };
  return {
    request: unary((req, ctx) =>
      traceIfEnabled("grpc", "request", () => req.connection?.id ?? "", async () => {
        const request = requestFromProto(req);
        const answer = await service.request({ ...request, connection: acceptRequest(request.connection, ctx, hop) });
        return connectionToProto(signAnswer(answer, service.name, ctx, hop));
      }),
    ),
    close: unary((c, ctx) =>
      traceIfEnabled("grpc", "close", () => c.id, async () => {
        const connection = connectionFromProto(c);
        acceptClose(connection.id, ctx, hop);
        await service.close(connection);
        return {};
      }),
    ),
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

function grpcServer(routes: Parameters<typeof connectNodeAdapter>[0]["routes"], shutdown: AbortSignal, security: GrpcSecurity | undefined) {
  const handler = connectNodeAdapter({ grpc: true, connect: false, grpcWeb: false, shutdownSignal: shutdown, contextValues: peerContextValues, routes });
  const server = createGrpcHttp2Server(handler, security);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return { server, dropAll: () => sessions.forEach((s) => s.destroy()) };
}

export function createForwarderGrpcServer(service: ForwarderService, security?: GrpcSecurity): ForwarderGrpcServer {
  const shutdown = new AbortController();
  const served = [NetworkService, MonitorConnection].map((s) => s.typeName);
  const health = healthImpl([...served, Health.typeName]);
  const main = grpcServer(
    (router) => {
      router.service(NetworkService, networkServiceImpl(service, security));
      router.service(MonitorConnection, monitorImpl(service));
      router.service(Health, health);
    },
    shutdown.signal,
    security,
  );
  const probe = grpcServer((router) => router.service(Health, health), shutdown.signal, undefined);
  const listeners: net.Server[] = [];
  const listenWith = async (server: http2.Http2Server, target: string) => {
    const listener = await listenOn(server, target);
    listeners.push(listener);
    const address = listener.address();
    return typeof address === "object" && address ? address.port : undefined;
  };
  return {
    server: main.server,
    listen: (target) => listenWith(main.server, target),
    listenHealth: (target) => listenWith(probe.server, target),
    async close() {
      shutdown.abort();
      main.dropAll();
      probe.dropAll();
      // Stop listening (a unix socket file goes at once); the connections handed over were just destroyed.
      for (const l of listeners.splice(0)) l.close();
    },
  };
}
