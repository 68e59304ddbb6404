// Errors NSM answers with: a status a caller can act on and a message naming what is wrong.
import { ApiError } from "../lib/http/server.ts";

/** A refused request: 400 bad input, 404 unknown service or connection, 409 conflicting state. */
export class NsmError extends ApiError {
  constructor(status: number, message: string) {
    super(status, message);
    this.name = "NsmError";
  }
}

/** The innermost error of a wrapped chain (see chain.ts ChainError). */
export function rootCause(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && e.cause !== undefined && e.name === "ChainError") e = e.cause;
  return e;
}
