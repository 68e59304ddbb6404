import { describe, expect, it } from "vitest";
import { begin, chain, ChainError, compose, passCloseOn, passOn } from "../../nsm/chain.ts";
import type { Element } from "../../nsm/chain.ts";

interface Call {
  id: string;
  heal?: boolean;
  built: string[];
}

/** An element that builds `name` (unless told to fail) and undoes it on rollback and close. */
function recorder(name: string, log: string[], fail = false): Element<Call> {
  return {
    name,
    request: async (call, next) => {
      if (fail) throw new Error(`${name} broke`);
      log.push(`build ${name}`);
      return passOn({ ...call, built: [...call.built, name] }, next, async () => void log.push(`undo ${name}`));
    },
    close: (call, next) => passCloseOn(call, next, async () => void log.push(`undo ${name}`)),
  };
}

// Lets every pending promise callback run (they are microtasks; setImmediate comes after them).
const settle = () => new Promise((r) => setImmediate(r));

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe("chain", () => {
  it("runs elements in order and close in reverse order", async () => {
    const log: string[] = [];
    const c = chain([recorder("a", log), recorder("b", log), recorder("c", log)]);
    const out = await c.request({ id: "1", built: [] });
    expect(out.built).toEqual(["a", "b", "c"]);
    await c.close(out);
    expect(log).toEqual(["build a", "build b", "build c", "undo c", "undo b", "undo a"]);
  });

  it("rolls back elements 1-2 in reverse when element 3 of 4 fails, and names element 3 in the error", async () => {
    const log: string[] = [];
    const c = chain([recorder("one", log), recorder("two", log), recorder("three", log, true), recorder("four", log)]);
    const err = await c.request({ id: "1", built: [] }).catch((e: unknown) => e);
    expect(log).toEqual(["build one", "build two", "undo two", "undo one"]);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).element).toBe("three");
    expect((err as ChainError).message).toBe("three: three broke");
    expect(((err as ChainError).cause as Error).message).toBe("three broke");
  });

  it("keeps the original error when an undo fails during rollback", async () => {
    const log: string[] = [];
    const badUndo: Element<Call> = {
      name: "bad-undo",
      request: (call, next) =>
        passOn(call, next, async () => {
          throw new Error("undo failed");
        }),
      close: (call, next) => next.close(call),
    };
    const err = (await chain([recorder("one", log), badUndo, recorder("two", log, true)])
      .request({ id: "1", built: [] })
      .catch((e: unknown) => e)) as ChainError;
    expect(err.message).toBe("two: two broke");
    expect(err.rollbackErrors.map((e) => (e as Error).message)).toEqual(["undo failed"]);
    expect(log).toEqual(["build one", "undo one"]);
  });

  it("close undoes every element even when one of them fails, and reports the failure", async () => {
    const log: string[] = [];
    const failingClose: Element<Call> = {
      name: "stubborn",
      request: (call, next) => next.request(call),
      close: (call, next) =>
        passCloseOn(call, next, async () => {
          throw new Error("cannot undo");
        }),
    };
    const c = chain([recorder("a", log), failingClose, recorder("b", log)]);
    const err = await c.close({ id: "1", built: [] }).catch((e: unknown) => e);
    expect(log).toEqual(["undo b", "undo a"]);
    expect((err as Error).message).toBe("stubborn: cannot undo");
  });
});

describe("begin", () => {
  // An element standing for "create an interface": counts what it creates and takes the name it was given.
  function interfaces() {
    const created: string[] = [];
    const element: Element<Call & { name?: string }> = {
      name: "interface",
      request: async (call, next) => {
        const name = call.name ?? `nsm-${created.length + 1}`;
        if (!call.heal) created.push(name);
        return next.request({ ...call, name });
      },
      close: async (call, next) => {
        await next.close(call);
        created.splice(created.indexOf(call.name!), 1);
      },
    };
    return { created, element };
  }

  const heal = (established: Call & { name?: string }, incoming: Call & { name?: string }) => ({
    ...incoming,
    name: incoming.name ?? established.name,
    heal: true,
  });

  it("turns a repeated request for an established id into a heal, not a second interface", async () => {
    const ifs = interfaces();
    const c = chain([begin<Call & { name?: string }>({ id: (x) => x.id, heal }), ifs.element]);
    const first = await c.request({ id: "conn-1", built: [] });
    const again = await c.request({ id: "conn-1", built: [] });
    expect(ifs.created).toEqual(["nsm-1"]);
    expect(again.name).toBe(first.name);
    expect(again.heal).toBe(true);
  });

  it("gives close the connection the last request returned, even when the caller passes only the id", async () => {
    const ifs = interfaces();
    const c = chain([begin<Call & { name?: string }>({ id: (x) => x.id, heal }), ifs.element]);
    await c.request({ id: "a", built: [] });
    await c.request({ id: "b", built: [] });
    await c.close({ id: "a", built: [] });
    expect(ifs.created).toEqual(["nsm-2"]);
    await c.close({ id: "a", built: [] }); // unknown by now: a no-op
    expect(ifs.created).toEqual(["nsm-2"]);
  });

  it("processes requests and closes for one id one at a time, in arrival order; other ids run alongside", async () => {
    const events: string[] = [];
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const slow: Element<Call> = {
      name: "slow",
      request: async (call, next) => {
        const tag = `${call.id}:${call.built[0]}`;
        events.push(`start ${tag}`);
        const gate = deferred();
        gates.set(tag, gate);
        await gate.promise;
        events.push(`end ${tag}`);
        return next.request(call);
      },
      close: async (call, next) => {
        events.push(`close ${call.id}`);
        return next.close(call);
      },
    };
    const c = chain([begin<Call>({ id: (x) => x.id, heal: (_e, i) => ({ ...i, heal: true }) }), slow]);
    const r1 = c.request({ id: "x", built: ["first"] });
    const r2 = c.request({ id: "x", built: ["second"] });
    const closed = c.close({ id: "x", built: [] });
    const other = c.request({ id: "y", built: ["only"] });
    await settle();
    // y started although x's first request is still running; x's second request waits for it.
    expect(events).toEqual(["start x:first", "start y:only"]);
    gates.get("y:only")!.resolve();
    gates.get("x:first")!.resolve();
    await r1;
    await settle();
    expect(events).toEqual(["start x:first", "start y:only", "end y:only", "end x:first", "start x:second"]);
    gates.get("x:second")!.resolve();
    await Promise.all([r2, closed, other]);
    expect(events.slice(-2)).toEqual(["end x:second", "close x"]);
  });

  it("keeps the established connection when a heal fails, and forgets a new one that failed", async () => {
    let fail = false;
    const flaky: Element<Call> = {
      name: "flaky",
      request: async (call, next) => {
        if (fail) throw new Error("down");
        return next.request(call);
      },
      close: (call, next) => next.close(call),
    };
    const closed: string[] = [];
    const tail: Element<Call> = { name: "tail", request: (c, n) => n.request(c), close: async (c) => void closed.push(c.id) };
    const c = chain([begin<Call>({ id: (x) => x.id, heal: (_e, i) => ({ ...i, heal: true }) }), flaky, tail]);
    await c.request({ id: "kept", built: [] });
    fail = true;
    await expect(c.request({ id: "kept", built: [] })).rejects.toThrow("flaky: down");
    await expect(c.request({ id: "never", built: [] })).rejects.toThrow("flaky: down");
    await c.close({ id: "kept", built: [] });
    await c.close({ id: "never", built: [] });
    expect(closed).toEqual(["kept"]);
  });
});

describe("check", () => {
  /** An element that finds `problem` (or nothing) in what it built. */
  const checker = (name: string, log: string[], problem?: string): Element<Call> => ({
    name,
    request: (call, next) => next.request(call),
    close: (call, next) => next.close(call),
    check: async (call, next) => {
      log.push(name);
      return problem ?? next.check(call);
    },
  });

  it("answers the first problem in chain order; elements without a check pass it on", async () => {
    const log: string[] = [];
    const c = chain([checker("a", log), recorder("plain", []), checker("b", log, "b is broken"), checker("c", log, "c is broken")]);
    expect(await c.check({ id: "1", built: [] })).toBe("b is broken");
    expect(log).toEqual(["a", "b"]);
    expect(await chain([checker("a", []), recorder("plain", [])]).check({ id: "1", built: [] })).toBeUndefined();
  });

  it("names the element whose check failed", async () => {
    const broken: Element<Call> = { ...checker("x", []), check: async () => Promise.reject(new Error("agent down")) };
    await expect(chain([broken]).check({ id: "1", built: [] })).rejects.toThrow("x: agent down");
  });

  it("begin checks what the last request returned, in turn with requests, and says when the id is not established", async () => {
    const seen: Call[] = [];
    const spy: Element<Call> = { ...recorder("r", []), check: async (call) => (seen.push(call), undefined) };
    const c = chain([begin<Call>({ id: (x) => x.id, heal: (_e, i) => ({ ...i, heal: true }) }), spy]);
    expect(await c.check({ id: "x", built: [] })).toBe("connection x is not established");
    await c.request({ id: "x", built: [] });
    expect(await c.check({ id: "x", built: [] })).toBeUndefined();
    expect(seen.map((s) => s.built)).toEqual([["r"]]);
  });
});

describe("compose", () => {
  it("runs its elements, then the rest of the chain it sits in, and undoes in reverse", async () => {
    const log: string[] = [];
    const c = chain([recorder("outer", log), compose("inner", [recorder("i1", log), recorder("i2", log)]), recorder("after", log)]);
    const out = await c.request({ id: "1", built: [] });
    expect(out.built).toEqual(["outer", "i1", "i2", "after"]);
    await c.close(out);
    expect(log).toEqual(["build outer", "build i1", "build i2", "build after", "undo after", "undo i2", "undo i1", "undo outer"]);
  });

  it("a failure after the composed elements rolls them back, named by the element that failed", async () => {
    const log: string[] = [];
    const err = (await chain([compose("inner", [recorder("i1", log)]), recorder("last", log, true)])
      .request({ id: "1", built: [] })
      .catch((e: unknown) => e)) as ChainError;
    expect(err.element).toBe("last");
    expect(log).toEqual(["build i1", "undo i1"]);
  });
});
