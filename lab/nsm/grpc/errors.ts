// Failures as gRPC statuses: the status the JSON API would answer, as the gRPC code that means the
// same, with the same message.
import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { toApiError } from "../server.ts";

const CODES: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  // Every 409 here is a state that must change first: a service still in use, a name or address taken.
  409: Code.FailedPrecondition,
  502: Code.Unavailable,
  // The registry's store is not loaded yet (the lab's CRs before Kubernetes started): try again.
  503: Code.Unavailable,
};

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = toApiError(err);
  return new ConnectError(e.message, CODES[e.status] ?? Code.Internal, undefined, undefined, err);
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

/** A stream whose failure ends it with its gRPC status. */
export async function* streamed<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toConnectError(err);
  }
}
