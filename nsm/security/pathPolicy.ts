// What a server hop of NSM does with the path tokens of a call, as NSM's updatetoken and
// authorize elements do with their default policies:
// - the caller's token (gRPC metadata) becomes the token of the caller's path segment;
// - tokens_valid: every token up to the caller's decodes;
// - prev_token_signed: the caller's token is signed by the key of the TLS peer's certificate, its
//   sub is the peer's SPIFFE ID and its aud names this hop;
// - tokens_chained: the aud of each segment's token is the sub of the next one's;
// - tokens_expired: none of them has expired;
// and the last hop signs its own segment's token for the caller. A refusal is a 403 naming the
// policy and the segment.
import type { X509Certificate } from "node:crypto";
import type { Path, PathSegment } from "../../wire/nsm/api.ts";
import { generatePathToken, tokenClaims } from "../../wire/nsm/pathToken.ts";
import type { TokenClaims } from "../../wire/nsm/pathToken.ts";
import { verifyJwt } from "../../wire/spiffe/jwt.ts";
import type { X509Svid } from "../../wire/spiffe/x509Source.ts";
import { NsmError } from "../errors.ts";

/** Who is on the other end of a call, and what it sent beside the message. */
export interface CallCredentials {
  /** The TLS peer's leaf certificate. */
  peer: X509Certificate;
  /** Its SPIFFE ID. */
  peerId: string;
  /** `nsm-client-token` and `nsm-client-token-expires`. */
  token: string | undefined;
  tokenExpires: string | undefined;
}

const refuse = (policy: string, what: string) => new NsmError(403, `NSM policy ${policy}: ${what}`);
const describe = (s: PathSegment, i: number) => `path segment ${i} (${s.name})`;

function claimsOf(s: PathSegment, i: number): TokenClaims {
  try {
    return tokenClaims(s.token ?? "");
  } catch (e) {
    throw refuse("tokens_valid", `the token of ${describe(s, i)} is not a valid JWT: ${(e as Error).message}`);
  }
}

/** The caller's own token: signed by its certificate, from it, for this hop, unexpired. */
export function checkCallerToken(call: CallCredentials, own: X509Svid, now = Date.now()): TokenClaims {
  if (!call.token) throw new NsmError(401, `NSM: the call carries no ${"nsm-client-token"} (each NSM client signs one with its SVID for the server)`);
  let claims: TokenClaims;
  try {
    claims = tokenClaims(call.token);
  } catch (e) {
    throw refuse("tokens_valid", `the caller's token is not a valid JWT: ${(e as Error).message}`);
  }
  if (!verifyJwt(call.token, call.peer)) throw refuse("prev_token_signed", `the caller's token is not signed by the key of its TLS certificate (${call.peerId})`);
  if (claims.sub !== call.peerId) throw refuse("prev_token_signed", `the caller's token is from ${claims.sub}, but the caller is ${call.peerId}`);
  if (!claims.aud.includes(own.spiffeId)) throw refuse("tokens_chained", `the caller's token is for ${claims.aud.join(", ") || "nobody"}, not for this hop (${own.spiffeId})`);
  if (claims.exp * 1000 <= now) throw refuse("tokens_expired", `the caller's token expired at ${new Date(claims.exp * 1000).toISOString()}`);
  return claims;
}

/**
 * The path of an incoming Request with the caller's token in the caller's segment (`path.index`),
 * once every policy holds for the segments up to it. Throws a 403 (401 without a token) otherwise.
 */
export function acceptPath(path: Path | undefined, call: CallCredentials, own: X509Svid, now = Date.now()): Path {
  const segments = path?.path_segments ?? [];
  const at = path?.index ?? 0;
  if (segments.length === 0 || at >= segments.length) throw refuse("tokens_valid", "the request has no path segment of its caller (NSM clients put theirs first)");
  checkCallerToken(call, own, now);
  const updated = segments.map((s, i) => (i === at ? { ...s, token: call.token!, ...(call.tokenExpires ? { expires: call.tokenExpires } : {}) } : s));
  const claims = updated.slice(0, at + 1).map((s, i) => claimsOf(s, i));
  for (let i = 0; i < at; i++) {
    if (!claims[i]!.aud.includes(claims[i + 1]!.sub)) {
      throw refuse("tokens_chained", `the token of ${describe(updated[i]!, i)} is for ${claims[i]!.aud.join(", ")}, but ${describe(updated[i + 1]!, i + 1)} is ${claims[i + 1]!.sub}`);
    }
  }
  claims.forEach((c, i) => {
    if (c.exp * 1000 <= now) throw refuse("tokens_expired", `the token of ${describe(updated[i]!, i)} expired at ${new Date(c.exp * 1000).toISOString()}`);
  });
  return { index: at, path_segments: updated };
}

/** The SPIFFE ID that made the connection this path belongs to: the sub of its first segment's token. */
export function pathOwner(path: Path | undefined): string | undefined {
  const token = path?.path_segments[0]?.token;
  if (!token) return undefined;
  try {
    return tokenClaims(token).sub;
  } catch {
    return undefined;
  }
}

/** Refuses a caller that is not the identity that made the connection (NSM's service_connection policy). */
export function checkOwner(id: string, stored: Path | undefined, callerId: string): void {
  const owner = pathOwner(stored);
  if (owner !== undefined && owner !== callerId) {
    throw refuse("service_connection", `connection ${id} belongs to ${owner}; ${callerId} may not change or close it`);
  }
}

/** The answer's path with this hop's segment token signed for the caller, when this hop ends the path. */
export function signOwnSegment(path: Path | undefined, ownName: string, call: CallCredentials, own: X509Svid): Path | undefined {
  if (!path) return path;
  const last = path.path_segments.length - 1;
  if (last < 0 || path.path_segments[last]!.name !== ownName) return path;
  const { token, expires } = generatePathToken(own, call.peer);
  return { ...path, path_segments: path.path_segments.map((s, i) => (i === last ? { ...s, token, expires: expires.toISOString() } : s)) };
}

