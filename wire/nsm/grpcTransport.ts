// Where NSM's gRPC API is, as NSM writes it (NSM_CONNECT_TO): tcp://host:port or unix:///path
// (http://host:port is taken too), and one HTTP/2 connection there, over TCP or the unix socket:
// mTLS with this process's X.509-SVID when an X.509 source is given (every NSM hop, unix sockets
// included), each call then carrying this process's path token for the server (pathToken.ts);
// else cleartext h2c.
import net from "node:net";
import tls from "node:tls";
import type { X509Certificate } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { clientTlsOptions, peerCertificate } from "../spiffe/tls.ts";
import type { SvidSource } from "../spiffe/shared.ts";
import { generatePathToken, TOKEN_EXPIRES_HEADER, TOKEN_HEADER } from "./pathToken.ts";

export interface GrpcConnection {
  transport: Transport;
  /** The server's certificate (mTLS only): connects first when need be. */
  peer(): Promise<X509Certificate>;
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

export interface GrpcConnectionOptions {
  /** mTLS with this source's current SVID (a rotated SVID serves the next connection); a promise is awaited by the first call. */
  source?: SvidSource | Promise<SvidSource>;
}

export function grpcConnection(target: string, opts: GrpcConnectionOptions = {}): GrpcConnection {
  const { baseUrl, socketPath } = parseGrpcTarget(target);
  const pending = opts.source === undefined ? undefined : Promise.resolve(opts.source);
  // Answered by the first call that awaits it.
  pending?.catch(() => {});
  let source: SvidSource | undefined;
  let socket: tls.TLSSocket | undefined;
  const url = new URL(baseUrl);
  const connectTls = () => {
    const options = clientTlsOptions(source!.current());
    const opened = socketPath
      ? tls.connect({ ...options, socket: net.connect(socketPath) })
      : tls.connect({ ...options, host: url.hostname, port: Number(url.port) });
    opened.once("secureConnect", () => peerCertificate(opened));
    socket = opened;
    return opened;
  };
  const secureUrl = pending ? baseUrl.replace(/^http:/, "https:") : baseUrl;
  const session = new Http2SessionManager(
    secureUrl,
    {},
    pending ? { createConnection: connectTls } : socketPath ? { createConnection: () => net.connect(socketPath) } : {},
  );
  const peer = async () => {
    if (!pending) throw new Error(`gRPC target ${target}: no TLS, so no peer certificate`);
    source = await pending;
    const current = () => (socket && !socket.destroyed ? peerCertificate(socket) : undefined);
    let cert = current();
    if (!cert) {
      // The server went away (a restart): the session may not have noticed its socket closing yet.
      if (socket?.destroyed) session.abort();
      const state = await session.connect();
      cert = current();
      if (!cert) throw new ConnectError(`cannot reach ${target} over mTLS (${state}): no TLS session with a server certificate`, Code.Unavailable);
    }
    return cert;
  };
  const pathToken: Interceptor = (next) => async (req) => {
    const { token, expires } = generatePathToken((source = await pending!).current(), await peer());
    req.header.set(TOKEN_HEADER, token);
    req.header.set(TOKEN_EXPIRES_HEADER, expires.toISOString());
    return next(req);
  };
  return {
    // No compression, as NSM's gRPC stack: these are small messages between neighbours, and gzip cost more than it saved.
    transport: createGrpcTransport({ baseUrl: secureUrl, sessionManager: session, acceptCompression: [], ...(pending ? { interceptors: [pathToken] } : {}) }),
    peer,
    close: () => session.abort(),
  };
}
