// What the providers throw to Pulumi's host: plain Errors. A ConnectError (NSM's gRPC API) handed to
// the host's gRPC server as it is would be taken for a status it cannot send (its metadata is not
// gRPC's), and the engine would wait for an answer forever.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { plainError, withPlainErrors } from "../../provider/impl/plainErrors.ts";
import { PartialCreateError } from "../../provider/impl/identity.ts";
import { describeCallError } from "../../wire/nsm/grpcErrors.ts";

describe("provider errors", () => {
  it("an NSM failure leaves an operation as a plain Error with the same message, without code or metadata", async () => {
    const nsm = describeCallError(new ConnectError('network service "x" is not registered', Code.NotFound), "Request", "tcp://127.0.0.1:5003");
    const provider = withPlainErrors({
      create: async () => {
        throw nsm;
      },
    });
    const err = await provider.create({}).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ConnectError);
    expect(err?.message).toBe(`NSM Request at tcp://127.0.0.1:5003 failed with NOT_FOUND: network service "x" is not registered`);
    expect("metadata" in err! || "code" in err!).toBe(false);
    expect(err?.cause).toBe(nsm);
  });

  it("other errors pass unchanged, a partial create with its id and properties", async () => {
    const partial = new PartialCreateError("boom", "id-1", { a: 1 });
    expect(plainError(partial)).toBe(partial);
    const plain = new Error("plain");
    expect(plainError(plain)).toBe(plain);
    const results = await withPlainErrors({ create: async () => ({ id: "unused" }), read: async (id: string) => ({ id, props: {} }) }).read!("x", {});
    expect(results).toEqual({ id: "x", props: {} });
  });
});
