// NSM's path tokens, as its SDK makes them: each hop signs an ES256 JWT with its X.509-SVID's key,
// sub = its own SPIFFE ID, aud = the peer's ID from the peer's certificate, and exp = the earliest
// of now + the maximum lifetime (10 min by default) and both certificates' NotAfter. A client
// sends its token as gRPC metadata (`nsm-client-token`, with `nsm-client-token-expires` in RFC
// 3339); the server puts it into the client's path segment.
import type { X509Certificate } from "node:crypto";
import { decodeJwt, signJwt } from "../spiffe/jwt.ts";
import { spiffeIdOf } from "../spiffe/id.ts";
import type { X509Svid } from "../spiffe/x509Source.ts";

export const TOKEN_HEADER = "nsm-client-token";
export const TOKEN_EXPIRES_HEADER = "nsm-client-token-expires";
export const MAX_TOKEN_LIFETIME_MS = 10 * 60_000;

export interface PathToken {
  token: string;
  expires: Date;
}

export interface TokenClaims {
  sub: string;
  aud: string[];
  /** Seconds since the epoch. */
  exp: number;
}

/** The token `own` gives the hop whose certificate is `peer`. */
export function generatePathToken(own: X509Svid, peer: X509Certificate, now = Date.now()): PathToken {
  const expiresMs = Math.min(now + MAX_TOKEN_LIFETIME_MS, own.notAfter.getTime(), Date.parse(peer.validTo));
  const exp = Math.floor(expiresMs / 1000);
  return { token: signJwt(own.privateKey, { sub: own.spiffeId, aud: [spiffeIdOf(peer)], exp }), expires: new Date(exp * 1000) };
}

/** A token's claims in NSM's shape (aud always a list); throws naming what is malformed. */
export function tokenClaims(token: string): TokenClaims {
  const { claims } = decodeJwt(token);
  const c = claims as Record<string, unknown>;
  const aud = typeof c.aud === "string" ? [c.aud] : Array.isArray(c.aud) && c.aud.every((a) => typeof a === "string") ? (c.aud as string[]) : undefined;
  if (typeof c.sub !== "string" || c.sub === "") throw new Error("the token has no sub");
  if (!aud) throw new Error("the token has no aud");
  if (typeof c.exp !== "number") throw new Error("the token has no exp");
  return { sub: c.sub, aud, exp: c.exp };
}
