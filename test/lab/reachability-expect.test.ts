// `lab reach` without a kernel: which pairs are measured, how the matrix reads, and how an
// expectation file is read and compared (a fake pinger answers from a table of reachable addresses).
import { describe, expect, it } from "vitest";
import { compareReachability, measureReachability, parseExpectation, ExpectationError } from "../../lab/reachability.ts";
import type { Pinger } from "../../lab/reachability.ts";
import { renderComparison, renderReachability } from "../../lab/reachabilityView.ts";
import type { TopologyView } from "../../lab/topologyView.ts";

const RED = "default-domain:admin:red";
const BLUE = "default-domain:admin:blue";
const iface = (name: string, cidr: string, network?: string, networkId?: number) => ({ name, mac: "02:00:00:00:00:01", addresses: [cidr], network, networkId });
const vm = (name: string, cidr: string, network: string, networkId: number) => ({
  serverId: `${name}-0000-0000-0000-000000000000`,
  name,
  netns: `x-vm-${name}`,
  interfaces: [iface("eth0", cidr, network, networkId)],
});
const node = (name: string, kind: "compute" | "k8s", vms: ReturnType<typeof vm>[], pods: TopologyView["nodes"][number]["pods"]) => ({
  name,
  kind,
  netns: `x-${name}`,
  underlayIp: "172.31.0.10",
  networks: [],
  vms,
  pods,
});

/** The reference scenario's shape; listed out of order on purpose. */
const view: TopologyView = {
  instance: "t",
  prefix: "x",
  underlay: { netns: "x-underlay", cidr: "172.31.0.0/24" },
  nodes: [
    node("compute-1", "compute", [vm("blue-vm", "10.2.2.3/24", BLUE, 2), vm("red-vm-2", "10.1.1.4/24", RED, 1)], []),
    node("compute-2", "compute", [vm("red-vm-1", "10.1.1.3/24", RED, 1)], []),
    node("k8s-1", "k8s", [], [
      { name: "blue-pod", netns: "x-pod-blue-pod", interfaces: [iface("eth0", "10.244.1.2/16", "pod"), iface("nsm-1", "10.2.2.5/24", BLUE, 2)] },
      { name: "both-pod", netns: "x-pod-both-pod", interfaces: [iface("eth0", "10.244.1.3/16", "pod"), iface("nsm-1", "10.1.1.6/24", RED, 1), iface("nsm-2", "10.2.2.6/24", BLUE, 2)] },
      { name: "red-pod", netns: "x-pod-red-pod", interfaces: [iface("eth0", "10.244.1.4/16", "pod"), iface("nsm-1", "10.1.1.5/24", RED, 1)] },
    ]),
  ],
};

const subnetOf = (ip: string) => ip.split(".").slice(0, 3).join(".");
const addressesOf = (ns: string) =>
  view.nodes.flatMap((n) => [...n.vms, ...n.pods]).find((w) => w.netns === ns)!.interfaces.flatMap((f) => f.addresses.map((a) => a.split("/")[0]!));

/** Answers when source and target share a /24 (what the real data plane does for VN addresses). */
const sameSubnet: Pinger = async (ns, address) => (addressesOf(ns).some((a) => subnetOf(a) === subnetOf(address)) ? { ok: true, rttMs: 0.08 } : { ok: false });

const scenario = parseExpectation({
  workloads: ["red-pod", "blue-pod", "both-pod", "red-vm-1", "red-vm-2", "blue-vm"],
  reachable: ["red-pod <-> red-vm-1", "red-pod <-> red-vm-2", "blue-pod <-> blue-vm", "both-pod <-> red-vm-1", "both-pod <-> red-vm-2", "both-pod <-> blue-vm", "red-vm-1 <-> red-vm-2"],
});

describe("measuring", () => {
  it("pings every address of every target: pods -> VMs, VMs -> pods and VMs -> VMs, never pod -> pod or a VM to itself", async () => {
    const seen: string[] = [];
    const r = await measureReachability(view, { pinger: async (ns, a) => (seen.push(`${ns} ${a}`), { ok: false }) });
    expect(r.pairs.filter((p) => p.kind === "pod→vm")).toHaveLength(9);
    expect(r.pairs.filter((p) => p.kind === "vm→pod")).toHaveLength(9);
    expect(r.pairs.filter((p) => p.kind === "vm→vm")).toHaveLength(6);
    expect(r.pairs.some((p) => p.from === p.to)).toBe(false);
    // both-pod has three addresses: each VM pings all of them.
    expect(seen.filter((s) => s.startsWith("x-vm-red-vm-1 "))).toEqual(
      expect.arrayContaining(["x-vm-red-vm-1 10.244.1.3", "x-vm-red-vm-1 10.1.1.6", "x-vm-red-vm-1 10.2.2.6"]),
    );
    expect(seen).toHaveLength(9 * 1 + 3 * (2 + 3 + 2) + 6);
  });

  it("counts a target reachable when any of its addresses answers, and keeps which one did", async () => {
    const r = await measureReachability(view, { pinger: sameSubnet });
    const pair = (from: string, to: string) => r.pairs.find((p) => p.from === from && p.to === to)!;
    expect(pair("red-vm-1", "both-pod")).toMatchObject({ reachable: true });
    expect(pair("red-vm-1", "both-pod").probes.filter((p) => p.ok).map((p) => p.iface)).toEqual(["nsm-1"]);
    expect(pair("blue-vm", "both-pod").probes.filter((p) => p.ok).map((p) => p.iface)).toEqual(["nsm-2"]);
    expect(pair("blue-pod", "red-vm-1").reachable).toBe(false);
  });

  it("lists VMs, then pods, grouped by the networks they are on (blue, blue+red, red), then by name", async () => {
    const r = await measureReachability(view, { pinger: sameSubnet });
    expect(r.workloads.map((w) => w.name)).toEqual(["blue-vm", "red-vm-1", "red-vm-2", "blue-pod", "both-pod", "red-pod"]);
    expect(r.workloads.find((w) => w.name === "both-pod")!.interfaces.map((f) => `${f.name} ${f.network}`)).toEqual(["eth0 pod network", "nsm-1 red", "nsm-2 blue"]);
  });

  it("lists the names it is given first, in that order (the demo passes the scenario's)", async () => {
    const r = await measureReachability(view, { pinger: sameSubnet, order: ["red-pod", "red-vm-2", "blue-pod"] });
    expect(r.workloads.map((w) => w.name)).toEqual(["red-vm-2", "blue-vm", "red-vm-1", "red-pod", "blue-pod", "both-pod"]);
  });
});

describe("the matrix", () => {
  it("shows rows of sources and columns of targets per direction, ✓ with the answering interface and ✗", async () => {
    const text = renderReachability(await measureReachability(view, { pinger: sameSubnet, order: scenario.workloads }));
    const lines = text.split("\n");
    const row = (title: string, name: string) => {
      const start = lines.findIndex((l) => l.trim().startsWith(title));
      return lines.slice(start).find((l) => l.trim().startsWith(name + " "))!.trim().split(/ {3,}/);
    };
    expect(row("pods → VMs", "pods → VMs")).toEqual(["pods → VMs", "red-vm-1", "red-vm-2", "blue-vm"]);
    expect(row("pods → VMs", "red-pod")).toEqual(["red-pod", "✓ 0.08 ms", "✓ 0.08 ms", "✗"]);
    expect(row("pods → VMs", "blue-pod")).toEqual(["blue-pod", "✗", "✗", "✓ 0.08 ms"]);
    expect(row("VMs → pods", "blue-vm")).toEqual(["blue-vm", "✗", "✓ nsm-1 0.08 ms", "✓ nsm-2 0.08 ms"]);
    expect(row("VMs → VMs", "red-vm-1")).toEqual(["red-vm-1", "·", "✓ 0.08 ms", "✗"]);
    expect(text).toMatch(/both-pod \(pod on k8s-1\)\s+eth0\s+10\.244\.1\.3\/16\s+on pod network\n\s+nsm-1\s+10\.1\.1\.6\/24\s+on red\n\s+nsm-2\s+10\.2\.2\.6\/24\s+on blue/);
  });

  it("says so when the lab has nothing to measure", () => {
    const empty: TopologyView = { ...view, nodes: [] };
    return measureReachability(empty).then((r) => expect(renderReachability(r)).toContain("(no VMs or pods in the lab)"));
  });
});

describe("expectations", () => {
  it("reads a <-> b as both directions and a -> b as one, and defaults workloads to the names it mentions", () => {
    const e = parseExpectation({ reachable: ["a <-> b", "c -> a"] });
    expect(e.reachable).toEqual([{ from: "a", to: "b" }, { from: "b", to: "a" }, { from: "c", to: "a" }]);
    expect(e.workloads).toEqual(["a", "b", "c"]);
  });

  it.each([
    [[], /JSON object/],
    [{ reachable: "a <-> b" }, /list of strings/],
    [{ reachable: ["a <=> b"] }, /cannot read "a <=> b"/],
    [{ reachable: ["a <-> a"] }, /same workload twice/],
    [{ reachable: ["a <-> b"], workloads: ["a"] }, /names b, which "workloads" does not list/],
    [{ reachable: [], expected: [] }, /unknown field expected/],
  ])("refuses %j", (json, message) => {
    expect(() => parseExpectation(json)).toThrow(ExpectationError);
    expect(() => parseExpectation(json)).toThrow(message);
  });

  it("matches the reference scenario when the data plane isolates by network", async () => {
    const c = compareReachability(await measureReachability(view, { pinger: sameSubnet }), scenario);
    expect(c).toMatchObject({ matches: true, checked: 24, expectedReachable: 14, mismatches: [], missing: [] });
    expect(renderComparison(c, scenario, "scenario.json")).toContain("✓ MATCHES: all 24 measured pairs are as expected (14 reachable, 10 isolated)");
  });

  it("names every pair that differs, both ways, with what was measured", async () => {
    const leaky: Pinger = async (ns, address) => (ns === "x-pod-blue-pod" && address === "10.1.1.3" ? { ok: true, rttMs: 0.1 } : sameSubnet(ns, address));
    const c = compareReachability(await measureReachability(view, { pinger: leaky }), scenario);
    expect(c.matches).toBe(false);
    expect(c.mismatches.map((m) => `${m.from} → ${m.to} ${m.expected}`)).toEqual(["blue-pod → red-vm-1 isolated"]);
    const text = renderComparison(c, scenario, "scenario.json");
    expect(text).toContain("✗ DOES NOT MATCH: 1 problem (24 pairs checked)");
    expect(text).toContain("blue-pod → red-vm-1: expected isolated, measured reachable (10.1.1.3 on eth0 answered in 0.10 ms)");

    const deaf = compareReachability(await measureReachability(view, { pinger: async () => ({ ok: false, error: "Network is unreachable" }) }), scenario);
    expect(deaf.mismatches).toHaveLength(14);
    expect(renderComparison(deaf, scenario, "s")).toContain("red-pod → red-vm-1: expected reachable, measured isolated (no reply from 10.1.1.3: Network is unreachable)");
  });

  it("fails for a named workload the lab does not have and for a pair it does not measure", async () => {
    const e = parseExpectation({ reachable: ["red-pod <-> red-vm-1", "red-pod -> both-pod", "ghost -> red-vm-1"] });
    const c = compareReachability(await measureReachability(view, { pinger: sameSubnet }), e);
    expect(c.matches).toBe(false);
    expect(c.missing).toEqual(["ghost"]);
    expect(c.unmeasured).toEqual([{ from: "red-pod", to: "both-pod" }]);
    expect(renderComparison(c, e, "e.json")).toContain("ghost: expected in the lab, not found");
  });

  it("leaves pairs with a workload outside the expectation's list unchecked", async () => {
    const e = parseExpectation({ workloads: ["red-pod", "red-vm-1"], reachable: ["red-pod <-> red-vm-1"] });
    const c = compareReachability(await measureReachability(view, { pinger: sameSubnet }), e);
    expect(c).toMatchObject({ matches: true, checked: 2 });
  });
});
