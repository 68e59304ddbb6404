// KeyedQueue: what NSM begin, Nova and the pod runtime rely on to keep work for one key in order.
import { describe, expect, it } from "vitest";
import { KeyedQueue } from "../../lib/keyedQueue.ts";

/** A task that records its start and end and finishes when `release` is called. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    release: () => release(),
    task: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
  };
}

/** A queue and two gated tasks "a" and "b" that log into the same list. */
function setup() {
  const log: string[] = [];
  return { q: new KeyedQueue(), log, a: gate(log, "a"), b: gate(log, "b") };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("KeyedQueue", () => {
  it("runs tasks of one key one at a time, in arrival order", async () => {
    const { q, log, a, b } = setup();
    const ra = q.run("k", a.task);
    const rb = q.run("k", b.task);
    await tick();
    expect(log).toEqual(["start a"]);
    b.release();
    await tick();
    expect(log).toEqual(["start a"]);
    a.release();
    expect(await Promise.all([ra, rb])).toEqual(["a", "b"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b"]);
  });

  it("runs different keys concurrently", async () => {
    const { q, log, a, b } = setup();
    const ra = q.run("x", a.task);
    const rb = q.run("y", b.task);
    await tick();
    expect(log).toEqual(["start a", "start b"]);
    b.release();
    await rb;
    expect(log).toContain("end b");
    expect(log).not.toContain("end a");
    a.release();
    await ra;
  });

  it("rejects a failed task to its caller and still runs the next one", async () => {
    const q = new KeyedQueue();
    const failed = q.run("k", async () => {
      throw new Error("boom");
    });
    const next = q.run("k", async () => "after");
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("after");
  });

  it("idle waits for queued work, including work queued while waiting", async () => {
    const { q, log, a, b } = setup();
    void q.run("k", async () => {
      await a.task();
      void q.run("other", b.task);
    });
    let idle = false;
    const waiting = q.idle().then(() => (idle = true));
    a.release();
    await tick();
    await tick();
    expect(log).toEqual(["start a", "end a", "start b"]);
    expect(idle).toBe(false);
    b.release();
    await waiting;
    expect(log).toEqual(["start a", "end a", "start b", "end b"]);
  });
});
