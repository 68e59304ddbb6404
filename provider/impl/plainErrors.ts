// What a dynamic provider may throw to Pulumi's provider host: for some calls (read) the host hands
// the error itself to its gRPC server, which takes the error's `code` and `metadata` for the status
// it answers. An NSM gRPC failure is a ConnectError, whose code counts in Connect's numbering and
// whose metadata is a fetch Headers: passed on as it is, no answer ever reaches the engine and the
// deployment waits forever. So errors leave the provider as plain Errors with the same message
// (PartialCreateError and other plain errors pass unchanged).
import type * as pulumi from "@pulumi/pulumi";

/** `err` without what the host would take for a gRPC status: a ConnectError becomes an Error with its message. */
export function plainError(err: unknown): unknown {
  if (err instanceof Error && ("metadata" in err || typeof (err as { code?: unknown }).code === "number")) {
    const plain = new Error(err.message, { cause: err });
    if (err.stack) plain.stack = `Error: ${err.message}${err.stack.slice(err.stack.indexOf("\n"))}`;
    return plain;
  }
  return err;
}

/** The provider with every operation's failure made a plain Error. */
export function withPlainErrors(provider: pulumi.dynamic.ResourceProvider): pulumi.dynamic.ResourceProvider {
  const wrapped: Record<string, unknown> = {};
  for (const [name, op] of Object.entries(provider)) {
    wrapped[name] =
      typeof op === "function"
        ? async (...args: unknown[]) => {
            try {
              return await (op as (...a: unknown[]) => unknown).apply(provider, args);
            } catch (err) {
              throw plainError(err);
            }
          }
        : op;
  }
  return wrapped as unknown as pulumi.dynamic.ResourceProvider;
}
