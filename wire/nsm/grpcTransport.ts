// Where NSM's gRPC API is, as NSM writes it (NSM_CONNECT_TO): tcp://host:port or unix:///path
// (http://host:port is taken too), and one HTTP/2 connection there, over TCP or the unix socket.
import net from "node:net";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

export interface GrpcConnection {
  transport: Transport;
  /** Closes the connection and whatever streams are open on it. */
  close(): void;
}

/** The base URL and, for a unix socket, its path. Throws for another scheme. */
export function parseGrpcTarget(target: string): { baseUrl: string; socketPath?: string } {
  const url = new URL(target);
  switch (url.protocol) {
    case "unix:":
      if (!url.pathname) throw new Error(`gRPC target ${target}: unix: needs a socket path (unix:///path)`);
      // The authority of a unix-socket request names no host; "localhost" is what gRPC puts there.
      return { baseUrl: "http://localhost", socketPath: decodeURIComponent(url.pathname) };
    case "tcp:":
    case "http:":
      return { baseUrl: `http://${url.host}` };
    default:
      throw new Error(`gRPC target ${target}: expected tcp://host:port, unix:///path or http://host:port`);
  }
}

export function grpcConnection(target: string): GrpcConnection {
  const { baseUrl, socketPath } = parseGrpcTarget(target);
  const session = new Http2SessionManager(baseUrl, {}, socketPath ? { createConnection: () => net.connect(socketPath) } : {});
  return {
    transport: createGrpcTransport({ baseUrl, sessionManager: session }),
    close: () => session.abort(),
  };
}
