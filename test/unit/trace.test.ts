import { afterEach, describe, expect, it, vi } from "vitest";
import { chain, compose, passOn } from "../../nsm/chain.ts";
import type { Element } from "../../nsm/chain.ts";
import { formatTrace, tracingEnabled } from "../../lib/trace.ts";

interface Call {
  id: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spends `ms` of its own before passing on. */
function slow(name: string, ms: number): Element<Call> {
  return {
    name,
    request: async (c, next) => {
      await sleep(ms);
      return passOn(c, next);
    },
    close: (c, next) => next.close(c),
  };
}

function traceLines(write: ReturnType<typeof vi.spyOn>): string[] {
  return write.mock.calls.map((args: unknown[]) => String(args[0])).filter((l: string) => l.startsWith("tfmesh trace:"));
}

describe("TFMESH_TRACE", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("names its topics as a comma list", () => {
    expect(tracingEnabled("chain", { TFMESH_TRACE: "kernel, chain" })).toBe(true);
    expect(tracingEnabled("kernel", { TFMESH_TRACE: "chain" })).toBe(false);
    expect(tracingEnabled("chain", {})).toBe(false);
  });

  it("gives each element its own time, not the rest of the chain's", () => {
    const spans = [
      { element: "outer", depth: 0, ms: 30 },
      { element: "a", depth: 1, ms: 25 },
      { element: "b", depth: 2, ms: 5 },
      { element: "c", depth: 1, ms: 4 },
    ];
    expect(formatTrace("request", "c-1", spans, false)).toBe("tfmesh trace: request c-1 30.0 ms: outer 1.0, a 20.0, b 5.0, c 4.0");
  });

  it("prints one line per outermost request of a chain, with composed elements inside it", async () => {
    vi.stubEnv("TFMESH_TRACE", "chain");
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const c = chain([slow("first", 1), compose("inner", [slow("second", 20), slow("third", 1)])]);
    await c.request({ id: "conn-7" });
    const lines = traceLines(write);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tfmesh trace: request conn-7 [\d.]+ ms: first [\d.]+, inner [\d.]+, second [\d.]+, third [\d.]+\n$/);
    const second = Number(/second ([\d.]+)/.exec(lines[0]!)![1]);
    const first = Number(/first ([\d.]+)/.exec(lines[0]!)![1]);
    // The 20 ms sleep is second's own, not charged to the elements around it.
    expect(second).toBeGreaterThanOrEqual(19);
    expect(first).toBeLessThan(second);
  });

  it("marks a failed call and stays silent when off", async () => {
    vi.stubEnv("TFMESH_TRACE", "chain");
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const failing: Element<Call> = { name: "broken", request: async () => Promise.reject(new Error("no")), close: async () => {} };
    await expect(chain([slow("ok", 0), failing]).request({ id: "x" })).rejects.toThrow("broken: no");
    expect(traceLines(write)[0]).toMatch(/^tfmesh trace: request x [\d.]+ ms \(failed\): ok/);
    vi.stubEnv("TFMESH_TRACE", "");
    write.mockClear();
    await chain([slow("ok", 0)]).request({ id: "y" });
    expect(traceLines(write)).toEqual([]);
  });
});
