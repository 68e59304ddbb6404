// NSM's token handling at a server hop, in one place for the NSMgr and the forwarders: a Request's
// path is accepted (the caller's token into its segment, the default policies checked), a Close's
// token is checked, a caller may change only the connections it made, and the hop that ends a
// path signs its segment for the caller. Without security (no SPIRE: in-process tests) calls pass.
import type { HandlerContext } from "@connectrpc/connect";
import type { Connection, Path } from "../../wire/nsm/api.ts";
import { NsmError } from "../errors.ts";
import { acceptPath, checkCallerToken, checkOwner, signOwnSegment } from "../security/pathPolicy.ts";
import type { CallCredentials } from "../security/pathPolicy.ts";
import { callCredentials } from "./secureServer.ts";
import type { GrpcSecurity } from "./secureServer.ts";

export interface HopOptions {
  security: GrpcSecurity | undefined;
  /** The stored path of a known connection, whose first token names its owner (the NSMgr checks; a forwarder trusts its NSMgr). */
  storedPath?: (id: string) => Path | undefined;
}

function credentials(ctx: HandlerContext): CallCredentials {
  const call = callCredentials(ctx);
  if (!call) throw new NsmError(401, "NSM: the call came without a TLS client certificate (NSM's gRPC API is mTLS with X.509-SVIDs)");
  return call;
}

/** The connection of an incoming Request with its path accepted; throws a 401/403 naming the policy. */
export function acceptRequest(c: Connection, ctx: HandlerContext, o: HopOptions): Connection {
  if (!o.security) return c;
  const call = credentials(ctx);
  const path = acceptPath(c.path, call, o.security.source.current());
  if (o.storedPath && path.index === 0) checkOwner(c.id, o.storedPath(c.id), call.peerId);
  return { ...c, path };
}

/** An incoming Close: the caller's token holds and, at the NSMgr, the caller made the connection. */
export function acceptClose(id: string, ctx: HandlerContext, o: HopOptions): void {
  if (!o.security) return;
  const call = credentials(ctx);
  checkCallerToken(call, o.security.source.current());
  if (o.storedPath) checkOwner(id, o.storedPath(id), call.peerId);
}

/** The answer of a Request: the hop that ends the path signs its segment for the caller. */
export function signAnswer(answer: Connection, ownName: string, ctx: HandlerContext, o: HopOptions): Connection {
  if (!o.security) return answer;
  const path = signOwnSegment(answer.path, ownName, credentials(ctx), o.security.source.current());
  return path ? { ...answer, path } : answer;
}

/** The SPIFFE ID of the caller, with security on. */
export function callerId(ctx: HandlerContext, o: Pick<HopOptions, "security">): string | undefined {
  return o.security ? credentials(ctx).peerId : undefined;
}

/**
 * The path_ids a registration by the caller keeps: the owner's (the identity that first registered
 * the name, as NSM's registry policy has it) when it is the caller; a 403 when someone else owns it.
 */
export function claimRegistration(what: string, existing: { path_ids?: string[] } | undefined, ctx: HandlerContext, o: Pick<HopOptions, "security">): string[] | undefined {
  const caller = callerId(ctx, o);
  if (caller === undefined) return existing?.path_ids;
  const owner = existing?.path_ids?.[0];
  if (owner !== undefined && owner !== caller) {
    throw new NsmError(403, `NSM policy registry_client_allowed: ${what} was registered by ${owner}; ${caller} may not change or remove it`);
  }
  return [caller];
}
