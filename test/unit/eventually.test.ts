// harness/eventually.ts: the bounded wait every test and benchmark polls with.
import { describe, expect, it, vi } from "vitest";
import { EventuallyTimeout, eventually } from "../../harness/eventually.ts";

describe("eventually", () => {
  it("retries a check that throws or returns falsy, and resolves with its first truthy value", async () => {
    let calls = 0;
    const v = await eventually(
      () => {
        calls++;
        if (calls === 1) throw new Error("not yet");
        return calls < 3 ? undefined : { calls };
      },
      { what: "the third call", intervalMs: 1 },
    );
    expect(v).toEqual({ calls: 3 });
    expect(calls).toBe(3);
  });

  it("accepts async checks", async () => {
    let calls = 0;
    await expect(eventually(async () => ++calls === 2 && "done", { what: "two calls", intervalMs: 1 })).resolves.toBe("done");
  });

  it("gives up after the attempts, naming what it waited for and the last error", async () => {
    let calls = 0;
    const err = await eventually(
      () => {
        calls++;
        throw new Error(`failure ${calls}`);
      },
      { what: "the port to be plugged", intervalMs: 1, attempts: 4 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventuallyTimeout);
    expect(calls).toBe(4);
    expect((err as EventuallyTimeout).attempts).toBe(4);
    expect((err as Error).message).toMatch(/the port to be plugged/);
    expect((err as Error).message).toMatch(/after 4 attempts/);
    expect((err as Error).message).toMatch(/last: Error: failure 4$/);
    expect(((err as EventuallyTimeout).lastError as Error).message).toBe("failure 4");
  });

  it("names the last falsy value when the check never passed", async () => {
    await expect(eventually(() => ({ status: "BUILD" }).status === "ACTIVE", { what: "ACTIVE", intervalMs: 1, attempts: 2 })).rejects.toThrow(
      /gave up waiting for ACTIVE after 2 attempts .*last: returned false/,
    );
  });

  it("is bounded in time even by a check that never settles", async () => {
    const err = await eventually(() => new Promise<boolean>(() => {}), { what: "a hanging check", timeoutMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventuallyTimeout);
    expect((err as Error).message).toMatch(/a hanging check after 1 attempt in \d+ ms; last: the check was still running/);
  });

  it("is bounded in time when attempts would allow more", async () => {
    let calls = 0;
    const err = await eventually(() => ++calls < 0, { what: "never", timeoutMs: 30, intervalMs: 5, attempts: 1_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventuallyTimeout);
    expect(calls).toBeLessThan(1_000_000);
  });

  it("keeps waiting with real timers while a test fakes them", async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      await expect(eventually(() => ++calls === 3, { what: "three calls", intervalMs: 1 })).resolves.toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a non-positive bound", async () => {
    await expect(eventually(() => true, { what: "x", timeoutMs: 0 })).rejects.toThrow(/eventually\(x\): timeoutMs and attempts must be positive/);
  });
});
