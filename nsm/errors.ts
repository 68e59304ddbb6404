// Errors NSM answers with: a status a caller can act on and a message naming what is wrong.

/** A refused request: 400 bad input, 404 unknown service or connection, 409 conflicting state. */
export class NsmError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "NsmError";
    this.status = status;
  }
}

/** The innermost error of a wrapped chain (see chain.ts ChainError). */
export function rootCause(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && e.cause !== undefined && e.name === "ChainError") e = e.cause;
  return e;
}
