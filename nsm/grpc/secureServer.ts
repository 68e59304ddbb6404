// The HTTP/2 server under an NSM gRPC service: with an X.509 source, mTLS as NSM's components
// speak it (our SVID, the trust bundle as CA, a client certificate required, a peer without a
// SPIFFE ID of our trust domain dropped; the SVID swapped in as SPIRE rotates it), and each call's
// credentials (the TLS peer, its SPIFFE ID, its path token) for the handlers. Without a source,
// plain HTTP/2 (h2c), for the in-process tests that run no SPIRE.
import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import type { ContextValues, HandlerContext } from "@connectrpc/connect";
import { createContextKey, createContextValues } from "@connectrpc/connect";
import { TOKEN_EXPIRES_HEADER, TOKEN_HEADER } from "../../wire/nsm/pathToken.ts";
import { authorizeClient, peerCertificate, peerSpiffeId, serverTlsOptions } from "../../wire/spiffe/tls.ts";
import type { SvidSource } from "../../wire/spiffe/shared.ts";
import type { CallCredentials } from "../security/pathPolicy.ts";

export interface GrpcSecurity {
  /** This process's SVIDs, from the SPIFFE Workload API. */
  source: SvidSource;
}

interface TlsPeer {
  peer: CallCredentials["peer"];
  peerId: string;
}

const PEER = createContextKey<TlsPeer | undefined>(undefined, { description: "the TLS peer of an NSM call" });

/** The connect-node adapter's `contextValues`: the TLS peer of each request. */
export function peerContextValues(req: { socket: unknown }): ContextValues {
  const values = createContextValues();
  const socket = req.socket as TLSSocket | undefined;
  if (socket && typeof socket.getPeerX509Certificate === "function") {
    const peer = peerCertificate(socket);
    const peerId = peerSpiffeId(socket);
    if (peer && peerId) values.set(PEER, { peer, peerId });
  }
  return values;
}

/** The credentials a call came with; undefined on a server without TLS. */
export function callCredentials(ctx: HandlerContext): CallCredentials | undefined {
  const peer = ctx.values.get(PEER);
  if (!peer) return undefined;
  return { ...peer, token: ctx.requestHeader.get(TOKEN_HEADER) ?? undefined, tokenExpires: ctx.requestHeader.get(TOKEN_EXPIRES_HEADER) ?? undefined };
}

/** The server for `handler`: mTLS with `security`, h2c without. */
export function createGrpcHttp2Server(handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void, security: GrpcSecurity | undefined): http2.Http2Server {
  if (!security) return http2.createServer(handler);
  const server = http2.createSecureServer({ ...serverTlsOptions(security.source.current()), allowHTTP1: false }, handler);
  server.on("secureConnection", (socket: TLSSocket) => authorizeClient(socket));
  const stop = security.source.onUpdate((svid) => server.setSecureContext(serverTlsOptions(svid)));
  server.once("close", stop);
  return server as unknown as http2.Http2Server;
}
