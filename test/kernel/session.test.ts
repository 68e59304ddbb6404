// Long-lived ip/bridge batch processes (lib/kernel/session.ts) against real namespaces, as root:
// a namespace that keeps sessions gets its batches through one process, with the same results and
// errors as a batch process of its own, and deleting the namespace ends that process.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { bridge, closeSessions, ip, isExists, KernelError, keepSessions, listLinks, netns, run, runStats, showLink } from "../../lib/kernel/index.ts";

const prefix = `ks${randomBytes(2).toString("hex")}`;
const ns = `${prefix}-a`;
const other = `${prefix}-b`;

/** Processes whose command line runs a batch in `name`. */
function sessionProcesses(name: string): number[] {
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return argv.includes("-batch") && argv.includes(name) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}

describe("kernel sessions", () => {
  beforeAll(async () => {
    await netns.add(ns);
    await netns.add(other);
    keepSessions(ns);
  });
  afterAll(async () => {
    await closeSessions();
    // Every namespace a test made, also those of a test that failed half-way.
    for (const name of netns.list(`${prefix}-`)) await netns.del(name);
  });

  it("runs batches through one process: no process start per batch", async () => {
    await ip.batch([["link", "add", "br-s", "type", "bridge"]], ns);
    const before = runStats.count;
    for (let i = 0; i < 5; i++) await ip.batch([["link", "add", `d${i}`, "type", "veth", "peer", "name", `d${i}p`], ["link", "set", `d${i}`, "master", "br-s", "up"]], ns);
    await bridge.batch([["fdb", "replace", "02:00:00:00:00:01", "dev", "d0", "master", "static"]], ns);
    expect(runStats.count).toBe(before);
    expect(sessionProcesses(ns)).toHaveLength(2);
    const links = await listLinks(ns);
    expect(links.filter((l) => l.master === "br-s").map((l) => l.ifname).sort()).toEqual(["d0", "d1", "d2", "d3", "d4"]);
    const fdb = await bridge.json<{ mac: string; state?: string }>(["fdb", "show", "dev", "d0"], ns);
    expect(fdb.find((f) => f.mac === "02:00:00:00:00:01")?.state).toBe("static");
  });

  it("stops at the first failing line, names it within the batch, and carries on with the next batch", async () => {
    const err = await ip.batch([["link", "add", "e1", "type", "veth", "peer", "name", "e1p"], ["link", "add", "d0", "type", "veth", "peer", "name", "d0p"], ["link", "add", "e2", "type", "veth", "peer", "name", "e2p"]], ns).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(isExists(err)).toBe(true);
    expect((err as KernelError).stderr).toContain("Command failed -:2");
    expect(await showLink("e1", ns)).toBeDefined();
    expect(await showLink("e2", ns)).toBeUndefined();
    await ip.batch([["link", "add", "e3", "type", "veth", "peer", "name", "e3p"]], ns);
    expect(await showLink("e3", ns)).toBeDefined();
  });

  it("answers batches sent at once in order, each with its own result", async () => {
    const results = await Promise.allSettled([
      ip.batch([["link", "add", "q1", "type", "veth", "peer", "name", "q1p"]], ns),
      ip.batch([["link", "del", "nope"]], ns),
      ip.batch([["link", "add", "q2", "type", "veth", "peer", "name", "q2p"]], ns),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((await listLinks(ns)).map((l) => l.ifname)).toEqual(expect.arrayContaining(["q1", "q2"]));
  });

  it("answers reads through the session, a missing device as missing", async () => {
    const before = runStats.count;
    const links = await listLinks(ns);
    expect(links.map((l) => l.ifname)).toEqual(expect.arrayContaining(["lo", "br-s", "d0"]));
    expect((await showLink("d1", ns))?.master).toBe("br-s");
    expect(await showLink("absent0", ns)).toBeUndefined();
    expect(runStats.count).toBe(before);
    // bridge's reads keep their filters for later commands of a batch: they get processes of their own.
    expect((await bridge.json<{ mac: string }>(["fdb", "show", "dev", "d0"], ns)).map((f) => f.mac)).toContain("02:00:00:00:00:01");
    expect((await bridge.json<{ ifname?: string }>(["fdb", "show"], ns)).some((f) => f.ifname === "br-s")).toBe(true);
  });

  it("addresses a link deleted and made again under its name as the new link (the tools remember names' indexes)", async () => {
    const veth = (name: string) => ["link", "add", name, "type", "veth", "peer", "name", `${name}p`];
    await ip.batch([veth("r1"), ["link", "set", "dev", "r1", "alias", "first"]], ns);
    await bridge.batch([["link", "set", "dev", "d0", "learning", "off"]], ns);
    await ip.batch([["link", "del", "r1"]], ns);
    await ip.batch([veth("r1")], ns);
    await ip.batch([["link", "set", "dev", "r1", "master", "br-s", "alias", "second"]], ns);
    await bridge.batch([["fdb", "replace", "02:00:00:00:00:07", "dev", "r1", "master", "static"]], ns);
    expect(await showLink("r1", ns)).toMatchObject({ ifalias: "second", master: "br-s" });
  });

  it("runs a batch on a link someone else deleted and made again under its name since", async () => {
    await ip.batch([["link", "add", "x9", "type", "veth", "peer", "name", "x9p"], ["link", "set", "dev", "x9", "alias", "first"]], ns);
    await run("ip", ["link", "del", "x9"], { netns: ns });
    await run("ip", ["link", "add", "x9", "type", "veth", "peer", "name", "x9p"], { netns: ns });
    await ip.batch([["link", "set", "dev", "x9", "alias", "second"], ["link", "set", "dev", "x9", "up"]], ns);
    expect(await showLink("x9", ns)).toMatchObject({ ifalias: "second" });
    const missing = await ip.batch([["link", "set", "dev", "x9", "alias", "third"], ["link", "set", "dev", "nothere", "up"]], ns).catch((e: unknown) => e as KernelError);
    expect(missing).toBeInstanceOf(KernelError);
    expect((missing as KernelError).stderr).toContain("Command failed -:2");
    expect((await showLink("x9", ns))?.ifalias).toBe("third");
  });

  it("follows a namespace deleted and made again under its name behind its back, and lets the old one go", async () => {
    const again = `${prefix}-d`;
    await netns.add(again);
    keepSessions(again);
    await ip.batch([["link", "add", "old1", "type", "veth", "peer", "name", "old1p"]], again);
    const [oldSession] = sessionProcesses(again);
    await run("ip", ["netns", "del", again]);
    await run("ip", ["netns", "add", again]);
    await ip.batch([["link", "add", "new1", "type", "veth", "peer", "name", "new1p"]], again);
    expect((await listLinks(again)).map((l) => l.ifname).sort()).toEqual(["lo", "new1", "new1p"]);
    await eventually(() => !sessionProcesses(again).includes(oldSession!), { timeoutMs: 5000, what: "the old namespace's session to end" });
    await netns.del(again);
  });

  it("leaves namespaces that do not keep sessions to a process per batch", async () => {
    const before = runStats.count;
    await ip.batch([["link", "add", "o1", "type", "veth", "peer", "name", "o1p"]], other);
    expect(runStats.count).toBe(before + 1);
    expect(sessionProcesses(other)).toEqual([]);
  });

  it("ends the namespace's sessions when the namespace is deleted, so nothing keeps it alive", async () => {
    const gone = `${prefix}-c`;
    await netns.add(gone);
    keepSessions(gone);
    await ip.batch([["link", "add", "x1", "type", "veth", "peer", "name", "x1p"]], gone);
    expect(sessionProcesses(gone)).toHaveLength(1);
    await netns.del(gone);
    expect(sessionProcesses(gone)).toEqual([]);
    expect(netns.exists(gone)).toBe(false);
  });
});
