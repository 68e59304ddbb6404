// Failures across NSM's gRPC hops: a refusal the chain worded for the client (NsmError) keeps its
// meaning as the gRPC code that says the same, with the same message, and comes back as the same
// NsmError on the caller's side, so a forwarder in another process refuses exactly as one in the
// manager's own process did. TF or an agent unreachable behind a forwarder is UNAVAILABLE (502).
import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { ConnectionError, HttpError } from "../../lib/http/client.ts";
import { NsmError, rootCause } from "../errors.ts";

const TO_CODE: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  // Every 409 here is a state that must change first: a service still in use, a name or address taken.
  409: Code.FailedPrecondition,
  502: Code.Unavailable,
};

const TO_STATUS = new Map<Code, number>([
  [Code.InvalidArgument, 400],
  [Code.Unauthenticated, 401],
  [Code.PermissionDenied, 403],
  [Code.NotFound, 404],
  [Code.FailedPrecondition, 409],
  [Code.AlreadyExists, 409],
  [Code.Unavailable, 502],
  [Code.DeadlineExceeded, 504],
]);

/** The gRPC status a failure answers with. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const cause = rootCause(err);
  const message = err instanceof Error ? err.message : String(err);
  if (cause instanceof NsmError) return new ConnectError(message, TO_CODE[cause.status] ?? Code.Internal);
  if (cause instanceof HttpError || cause instanceof ConnectionError) return new ConnectError(message, Code.Unavailable);
  return new ConnectError(message, Code.Internal);
}

/** A gRPC failure of a call to `peer` as the NsmError it carried (500 for what has no status of its own). */
export function fromConnectError(err: unknown, peer: string): NsmError {
  const e = ConnectError.from(err);
  const status = TO_STATUS.get(e.code) ?? 500;
  // A refusal the peer worded stays as it is; UNAVAILABLE (the peer, or a system behind it) says whom it came through.
  return new NsmError(status, e.code === Code.Unavailable ? `${peer}: ${e.rawMessage}` : e.rawMessage);
}

/** A unary handler whose failures answer with their gRPC status. */
export function unary<I, O>(handler: (input: I, ctx: HandlerContext) => O | Promise<O>): (input: I, ctx: HandlerContext) => Promise<O> {
  return async (input, ctx) => {
    try {
      return await handler(input, ctx);
    } catch (err) {
      throw toConnectError(err);
    }
  };
}
