// The kernel adapter against real namespaces (runs as root): idempotent helpers, validation
// before anything runs, and errors that say which command failed.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addressLine,
  bridge,
  bridgeAddLine,
  createVeth,
  deleteLink,
  ensureVeth,
  findLinkByAlias,
  ip,
  KernelError,
  linkDelLine,
  linkExists,
  linkMacLine,
  linkRenameLine,
  linkSetLines,
  listAddresses,
  moveLink,
  netns,
  ping,
  renameLink,
  replaceAddress,
  replaceRoute,
  routeLine,
  run,
  runStats,
  setAlias,
  setMac,
  setMaster,
  setUp,
  showLink,
  sysctl,
  vethAddLine,
} from "../../lib/kernel/index.ts";
import type { Program } from "../../lib/kernel/index.ts";
import { execute } from "../../lib/kernel/spawner.ts";

const prefix = `k${randomBytes(3).toString("hex")}`;
const nsA = `${prefix}-a`;
const nsB = `${prefix}-b`;

async function cleanup() {
  for (const n of netns.list(`${prefix}-`)) await netns.del(n);
}

beforeAll(async () => {
  await netns.add(nsA);
  await netns.add(nsB);
});
afterAll(async () => {
  await cleanup();
  expect(netns.list(`${prefix}-`)).toEqual([]);
});

describe("run", () => {
  it("refuses programs that are not on the allow-list", async () => {
    await expect(run("sh" as Program, ["-c", "true"])).rejects.toThrow(/allow-list/);
  });

  it("reports the command line and stderr of a failure", async () => {
    const err = await run("ip", ["link", "show", "dev", "nosuchdev0"], { netns: nsA }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).command).toEqual(["ip", "-n", nsA, "link", "show", "dev", "nosuchdev0"]);
    expect((err as KernelError).stderr).toMatch(/does not exist/);
    expect((err as KernelError).message).toContain("ip -n");
  });

  it("refuses batch tokens that would change how a line is split", async () => {
    await expect(ip.batch([["link", "add", "x y", "type", "bridge"]], nsA)).rejects.toThrow(/unsafe token/);
    await expect(ip.batch([["link", "add", 'x"', "type", "bridge"]], nsA)).rejects.toThrow(/unsafe token/);
    expect(await linkExists("x", nsA)).toBe(false);
  });
});

describe("the tool helper process", () => {
  it("gives each of many concurrent runs its own answer", async () => {
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? run("ip", ["link", "show", "dev", "lo"], { netns: nsA }) : run("ip", ["link", "show", "dev", `nosuch${i}`], { netns: nsA, allowFail: true }))),
    );
    results.forEach((r, i) => {
      if (i % 2 === 0) expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining("lo:") });
      else expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining(`"nosuch${i}"`) });
    });
  });

  it("passes standard input through and runs only allow-listed tools", async () => {
    const [links] = await ip.jsonBatch([["link", "show", "dev", "lo"]], nsA);
    expect(links).toMatchObject([{ ifname: "lo" }]);
    expect(await execute({ file: "/bin/sh", args: ["-c", "true"], timeoutMs: 1000 })).toMatchObject({ code: 126, stderr: expect.stringMatching(/not an allow-listed/) });
  });
});

describe("netns", () => {
  it("adds idempotently, lists by prefix, deletes missing ones without error", async () => {
    const n = `${prefix}-tmp`;
    await netns.add(n);
    await netns.add(n);
    expect(netns.exists(n)).toBe(true);
    expect(netns.list(`${prefix}-`)).toEqual([nsA, nsB, n].sort());
    await netns.del(n);
    await netns.del(n);
    expect(netns.exists(n)).toBe(false);
  });

  it("brings loopback up in a new namespace", async () => {
    expect((await showLink("lo", nsA))?.flags).toContain("UP");
  });

  it("rejects bad namespace names before running anything", async () => {
    await expect(netns.add("bad name")).rejects.toThrow(/netns/);
    await expect(netns.add("../etc")).rejects.toThrow(/netns/);
  });

  it("runs only allow-listed programs inside a namespace", async () => {
    await expect(netns.exec(nsA, ["cat", "/etc/passwd"])).rejects.toThrow(/allow-list/);
    const res = await netns.exec(nsA, ["ip", "-json", "link", "show", "lo"]);
    expect(JSON.parse(res.stdout)[0].ifname).toBe("lo");
  });
});

describe("links, addresses, routes", () => {
  it("creates a veth pair across namespaces and pings through it", async () => {
    await createVeth("va0", "vb0", { netnsA: nsA, netnsB: nsB, macA: "02:00:00:00:0a:01" });
    await replaceAddress("va0", "192.168.77.1/24", nsA);
    await replaceAddress("va0", "192.168.77.1/24", nsA); // replace semantics: no error the second time
    await replaceAddress("vb0", "192.168.77.2/24", nsB);
    await setUp("va0", nsA);
    await setUp("vb0", nsB);
    expect((await showLink("va0", nsA))?.address).toBe("02:00:00:00:0a:01");
    const res = await ping(nsA, "192.168.77.2", { count: 2, interval: 0.2 });
    expect(res.ok).toBe(true);
    expect(res.received).toBe(2);
    expect(res.rtt?.avg).toBeGreaterThan(0);
    const lost = await ping(nsA, "192.168.77.9", { count: 1, wait: 1 });
    expect(lost.ok).toBe(false);
    expect(lost.received).toBe(0);
  });

  it("ensureVeth keeps a complete pair and repairs a lone end", async () => {
    expect(await ensureVeth("va0", "vb0", { netnsA: nsA, netnsB: nsB })).toBe(false);
    await createVeth("vc0", "vc1", { netnsA: nsA, netnsB: nsA });
    await deleteLink("vc1", nsA); // takes vc0 with it
    expect(await linkExists("vc0", nsA)).toBe(false);
    await createVeth("vd0", "vdx", { netnsA: nsA, netnsB: nsA });
    await moveLink("vdx", nsB, nsA);
    await deleteLink("vdx", nsB);
    expect(await ensureVeth("vd0", "vd1", { netnsA: nsA, netnsB: nsB })).toBe(true);
    expect(await linkExists("vd0", nsA)).toBe(true);
    expect(await linkExists("vd1", nsB)).toBe(true);
  });

  it("deleting a missing interface or one in a missing namespace is not an error", async () => {
    await deleteLink("nosuch0", nsA);
    await deleteLink("nosuch0", `${prefix}-gone`);
  });

  it("renames, sets MAC, master and alias, and finds an interface by alias", async () => {
    await createVeth("tmpa", "tmpb", { netnsA: nsA, netnsB: nsA });
    await renameLink("tmpa", "eth9", nsA);
    expect(await linkExists("eth9", nsA)).toBe(true);
    await setMac("eth9", "02:AA:bb:cc:dd:ee", nsA);
    expect((await showLink("eth9", nsA))?.address).toBe("02:aa:bb:cc:dd:ee");
    await ip.batch([["link", "add", "br9", "type", "bridge"]], nsA);
    await setMaster("tmpb", "br9", nsA);
    expect((await showLink("tmpb", nsA))?.master).toBe("br9");
    await setMaster("tmpb", undefined, nsA);
    expect((await showLink("tmpb", nsA))?.master).toBeUndefined();
    await setAlias("eth9", "conn:1234-abcd", nsA);
    expect(await findLinkByAlias("conn:1234-abcd", nsA)).toBe("eth9");
    expect(await findLinkByAlias("conn:none", nsA)).toBeUndefined();
  });

  it("validates names, MACs and addresses before running anything", async () => {
    await expect(setUp("this-name-is-too-long", nsA)).rejects.toThrow(/at most 15/);
    await expect(setUp("a;b", nsA)).rejects.toThrow(/may only contain/);
    await expect(setMac("eth9", "01:00:00:00:00:01", nsA)).rejects.toThrow(/multicast/);
    await expect(replaceAddress("eth9", "10.0.0.300/24", nsA)).rejects.toThrow(/IPv4/);
    await expect(replaceRoute({ dst: "10.0.0.0/33" }, nsA)).rejects.toThrow();
  });

  it("replaces routes in a table without duplicating them", async () => {
    await replaceRoute({ dst: "10.99.0.0/16", via: "192.168.77.2", table: 1234 }, nsA);
    await replaceRoute({ dst: "10.99.0.0/16", via: "192.168.77.2", table: 1234 }, nsA);
    await replaceRoute({ dst: "default", type: "unreachable", table: 1234 }, nsA);
    const routes = await ip.json<{ dst: string; gateway?: string; type?: string }>(["route", "show", "table", "1234"], nsA);
    expect(routes).toEqual(
      expect.arrayContaining([expect.objectContaining({ dst: "10.99.0.0/16", gateway: "192.168.77.2" }), expect.objectContaining({ dst: "default", type: "unreachable" })]),
    );
    expect(routes).toHaveLength(2);
  });

  it("reads several things in one ip process, one list per command", async () => {
    const [links, rules, neigh] = await ip.jsonBatch([["addr", "show"], ["rule", "show"], ["neigh", "show", "dev", "va0"]], nsA, { details: true });
    expect((links as Array<{ ifname: string }>).map((l) => l.ifname)).toContain("va0");
    expect(rules).toContainEqual(expect.objectContaining({ table: "main" }));
    expect(Array.isArray(neigh)).toBe(true);
    expect(ip.splitJsonValues('[{"a":"]["}]\n[]\n[1,[2]]')).toEqual([[{ a: "][" }], [], [1, [2]]]);
  });

  it("lists addresses as the kernel has them", async () => {
    const [va0] = await listAddresses(nsA, "va0");
    expect(va0?.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)).toEqual(["192.168.77.1/24"]);
  });
});

describe("one batch per interface", () => {
  it("builds a veth pair across namespaces in one run in the pod namespace (rename, MAC, address, route, up) and removes it in one", async () => {
    const before = runStats.count;
    await ip.batch(
      [
        vethAddLine({ name: "tmp0", mtu: 1400 }, { name: "host0", netns: nsB, mtu: 1400 }),
        linkRenameLine("tmp0", "nsm-1"),
        linkMacLine("nsm-1", "02:AA:00:00:00:01"),
        addressLine("replace", "nsm-1", "10.88.0.2/24"),
        ...linkSetLines("nsm-1", { alias: "nsm:batch-test", up: true }),
        routeLine("replace", { dst: "10.89.0.0/16", via: "10.88.0.1", dev: "nsm-1" }),
      ],
      nsA,
    );
    expect(runStats.count - before).toBe(1);
    const pod = await showLink("nsm-1", nsA);
    expect(pod).toMatchObject({ address: "02:aa:00:00:00:01", mtu: 1400, ifalias: "nsm:batch-test" });
    expect(pod?.flags).toContain("UP");
    expect(await showLink("tmp0", nsA)).toBeUndefined();
    expect(await showLink("host0", nsB)).toMatchObject({ mtu: 1400 });
    const [addr] = await listAddresses(nsA, "nsm-1");
    expect(addr?.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)).toEqual(["10.88.0.2/24"]);
    const routes = await ip.json<{ dst: string; gateway?: string }>(["route", "show", "dev", "nsm-1"], nsA);
    expect(routes).toContainEqual(expect.objectContaining({ dst: "10.89.0.0/16", gateway: "10.88.0.1" }));

    await ip.batch([linkDelLine("nsm-1")], nsA);
    expect(await showLink("nsm-1", nsA)).toBeUndefined();
    expect(await showLink("host0", nsB)).toBeUndefined();
  });

  it("brings the first end up at creation, the peer in the other namespace stays down", async () => {
    await ip.batch([vethAddLine({ name: "up0", up: true }, { name: "peer0", netns: nsB })], nsA);
    try {
      expect((await showLink("up0", nsA))?.flags).toContain("UP");
      expect((await showLink("peer0", nsB))?.flags).not.toContain("UP");
    } finally {
      await deleteLink("up0", nsA);
    }
    expect(await showLink("peer0", nsB)).toBeUndefined();
  });

  it("stops at the first failing line and says which one", async () => {
    const err = await ip.batch([linkDelLine("nosuchdev1"), bridgeAddLine("neverbr0")], nsA).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).message).toContain("link del dev nosuchdev1");
    expect(await showLink("neverbr0", nsA)).toBeUndefined();
  });
});

describe("bridge and sysctl", () => {
  it("sets bridge port flags and reads the fdb of a VXLAN port", async () => {
    await ip.batch(
      [
        ["link", "add", "vx7", "type", "vxlan", "id", "7", "dstport", "4789", "local", "192.168.77.1", "nolearning"],
        ["link", "set", "vx7", "master", "br9"],
      ],
      nsA,
    );
    await bridge.setPortFlags("vx7", { neighSuppress: true, learning: false }, nsA);
    const [port] = await bridge.json<{ ifname: string; neigh_suppress: boolean; learning: boolean }>(["-details", "link", "show", "dev", "vx7"], nsA);
    expect(port).toMatchObject({ neigh_suppress: true, learning: false });
    await bridge.batch(
      [
        ["fdb", "replace", "02:00:00:00:00:07", "dev", "vx7", "dst", "192.168.77.2", "self", "permanent"],
        ["fdb", "replace", "02:00:00:00:00:07", "dev", "vx7", "master", "static"],
      ],
      nsA,
    );
    const fdb = await bridge.fdbOfDevice("vx7", nsA);
    expect(fdb).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ mac: "02:00:00:00:00:07", dst: "192.168.77.2" }),
        expect.objectContaining({ mac: "02:00:00:00:00:07", master: "br9", state: "static" }),
      ]),
    );
  });

  it("sets sysctls per namespace and per interface", async () => {
    await sysctl.set({ "net.ipv4.conf.va0.forwarding": 1 }, nsA);
    expect(await sysctl.get("net.ipv4.conf.va0.forwarding", nsA)).toBe("1");
    expect(await sysctl.get("net.ipv4.conf.vb0.forwarding", nsB)).toBe("0");
    await expect(sysctl.set({ "kernel.x; reboot": 1 }, nsA)).rejects.toThrow(/refusing/);
  });
});
