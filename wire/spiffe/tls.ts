// mTLS with X.509-SVIDs, as NSM does it on every gRPC hop: both sides present their SVID chain
// and trust only their trust domain's bundle; at the TLS layer any SPIFFE ID of that trust domain
// is authorized (NSM's tlsconfig.AuthorizeAny), the rest (path tokens, OPA) is above it.
import { X509Certificate } from "node:crypto";
import type http2 from "node:http2";
import type tls from "node:tls";
import { parseSpiffeId, spiffeIdOf } from "./id.ts";
import type { X509Svid } from "./x509Source.ts";

/** For `http2.createSecureServer` (and `server.setSecureContext` on rotation). */
export function serverTlsOptions(svid: X509Svid): http2.SecureServerOptions {
  return {
    key: svid.keyPem,
    cert: svid.certChainPem,
    ca: svid.bundlePem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
    ALPNProtocols: ["h2"],
  };
}

export interface ClientTlsOptions {
  /** Refuses a peer of our trust domain by its SPIFFE ID: the reason, or undefined to accept it. */
  authorize?: (peerId: string) => string | undefined;
}

/** Why the server's certificate is refused by a client whose own SPIFFE ID is `ownId`. */
export function checkPeerCertificate(ownId: string, peer: X509Certificate, authorize?: (peerId: string) => string | undefined): string | undefined {
  let peerId: string;
  try {
    peerId = spiffeIdOf(peer);
  } catch (e) {
    return `the peer is no SPIFFE workload: ${(e as Error).message}`;
  }
  const own = parseSpiffeId(ownId).trustDomain;
  const theirs = parseSpiffeId(peerId).trustDomain;
  if (theirs !== own) return `the peer ${peerId} is in trust domain ${theirs}, not ours (${own})`;
  const refused = authorize?.(peerId);
  return refused === undefined ? undefined : `the peer ${peerId} is not authorized: ${refused}`;
}

/**
 * For `tls.connect` (add `socket`, or `host` and `port`): our SVID, the bundle as the only CA,
 * ALPN h2, and instead of the host name check a SPIFFE one: the server's leaf has exactly one
 * SPIFFE ID, in our trust domain, and `authorize` (if given) accepts it.
 */
export function clientTlsOptions(svid: X509Svid, opts: ClientTlsOptions = {}): tls.ConnectionOptions {
  return {
    key: svid.keyPem,
    cert: svid.certChainPem,
    ca: svid.bundlePem,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
    ALPNProtocols: ["h2"],
    checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => {
      if (!cert?.raw) return new Error("the server sent no certificate");
      const reason = checkPeerCertificate(svid.spiffeId, new X509Certificate(cert.raw), opts.authorize);
      return reason === undefined ? undefined : new Error(`refused the server: ${reason}`);
    },
  };
}

// A TLS 1.3 client loses sight of the server's certificate once a session ticket arrives
// (getPeerX509Certificate() is undefined from then on): the certificate is kept from the first look.
const seenPeers = new WeakMap<tls.TLSSocket, X509Certificate>();

/**
 * The peer's leaf certificate, when it sent one. Look once at the handshake (secureConnect on a
 * client; a server's authorizeClient does) so that it is known for the socket's whole life.
 */
export function peerCertificate(socket: tls.TLSSocket): X509Certificate | undefined {
  const seen = seenPeers.get(socket);
  if (seen) return seen;
  const cert = socket.getPeerX509Certificate() ?? undefined;
  if (cert) seenPeers.set(socket, cert);
  return cert;
}

/** The peer's SPIFFE ID, when it sent a certificate with exactly one. */
export function peerSpiffeId(socket: tls.TLSSocket): string | undefined {
  const cert = peerCertificate(socket);
  if (!cert) return undefined;
  try {
    return spiffeIdOf(cert);
  } catch {
    return undefined;
  }
}

/** Why a server refuses the client on `socket`, or undefined when it may stay. */
export function clientRefusal(socket: tls.TLSSocket): string | undefined {
  if (!socket.authorized) return `the client's certificate is not trusted: ${String(socket.authorizationError ?? "none sent")}`;
  const peer = peerCertificate(socket);
  if (!peer) return "the client sent no certificate";
  const own = socket.getX509Certificate();
  if (!own) return "this server has no certificate";
  let ownId: string;
  try {
    ownId = spiffeIdOf(own);
  } catch (e) {
    return `this server's certificate: ${(e as Error).message}`;
  }
  const reason = checkPeerCertificate(ownId, peer);
  return reason === undefined ? undefined : reason.replace(/^the peer/, "the client");
}

/**
 * For a server's `secureConnection`: destroys the socket of a client without a valid SPIFFE ID
 * in our trust domain, and returns the client's SPIFFE ID when it stays. `onRefused` hears why.
 */
export function authorizeClient(socket: tls.TLSSocket, onRefused?: (reason: string) => void): string | undefined {
  const reason = clientRefusal(socket);
  if (reason === undefined) return peerSpiffeId(socket);
  onRefused?.(reason);
  socket.destroy();
  return undefined;
}
