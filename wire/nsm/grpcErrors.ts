// What a failed NSM gRPC call tells its user: the call, where it went and the server's answer
// ("NSM Request at tcp://127.0.0.1:5003 failed with NOT_FOUND: network service "x" is not
// registered"), or that the server could not be reached at all, with a hint on what to start.
// The errors stay ConnectErrors (ConnectError.from(err).code and rawMessage as the server sent them).
import { Code, ConnectError } from "@connectrpc/connect";

/** gRPC's canonical name of a code: NOT_FOUND, INVALID_ARGUMENT, ... */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

// ConnectError's Symbol.hasInstance takes any ConnectError-shaped value, so `instanceof` cannot tell these apart.
const described = new WeakSet<object>();

export class NsmCallError extends ConnectError {
  /** True when no server answered (refused, no socket, reset, timed out before an answer). */
  readonly unreachable: boolean;

  constructor(cause: ConnectError, message: string, unreachable: boolean) {
    super(cause.rawMessage, cause.code, cause.metadata, undefined, cause.cause);
    // The name stays "ConnectError": ConnectError's instanceof (and so ConnectError.from) goes by it.
    this.details = cause.details;
    this.isWireError = cause.isWireError;
    this.message = message;
    this.unreachable = unreachable;
    described.add(this);
  }

  static isDescribed(err: unknown): err is NsmCallError {
    return typeof err === "object" && err !== null && described.has(err);
  }
}

/** The socket error code of a call no server answered (ECONNREFUSED, ENOENT, ...), else undefined. */
function transportFailure(err: ConnectError): string | undefined {
  if (err.isWireError) return undefined;
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
  return err.code === Code.DeadlineExceeded ? "no answer before the deadline" : undefined;
}

/** `err` as an NsmCallError of the call `what` ("Request") to `target`. */
export function describeCallError(err: unknown, what: string, target: string, unreachableHint?: string): NsmCallError {
  if (NsmCallError.isDescribed(err)) return err;
  const ce = ConnectError.from(err);
  const failure = transportFailure(ce);
  if (failure !== undefined) {
    return new NsmCallError(ce, `NSM ${what} at ${target}: cannot reach the server (${failure})${unreachableHint ? `. ${unreachableHint}` : ""}`, true);
  }
  return new NsmCallError(ce, `NSM ${what} at ${target} failed with ${codeName(ce.code)}: ${ce.rawMessage}`, false);
}

/** Whether `err` is a call no NSM server answered. */
export const isNsmUnreachable = (err: unknown): boolean => NsmCallError.isDescribed(err) && err.unreachable;

/** Whether `err` is an NSM answer with this code. */
export const isNsmCode = (err: unknown, code: Code): boolean => err instanceof ConnectError && err.isWireError && err.code === code;
