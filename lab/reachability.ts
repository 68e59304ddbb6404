// What can reach what, measured: from the lab's topology (every VM and pod with its interfaces),
// ping each pod -> VM, VM -> pod and VM -> VM pair from inside the source's namespace, all in
// parallel, and compare the result with an expectation (a list of the pairs that must reach;
// every other pair among the named workloads must be isolated). Used by `lab reach` and the demo.
import { KernelError } from "../lib/kernel/run.ts";
import { ping } from "../lib/kernel/ping.ts";
import type { TopologyView } from "./topologyView.ts";

export type WorkloadKind = "vm" | "pod";

export interface ReachInterface {
  name: string;
  address: string;
  prefixLength: number;
  /** "pod network", the VN's short name ("red"), or "" when unknown. */
  network: string;
  fqName?: string;
  networkId?: number;
}

export interface ReachWorkload {
  kind: WorkloadKind;
  /** Nova name or pod name (a VM whose name is taken twice gets its server id appended). */
  name: string;
  node: string;
  netns: string;
  interfaces: ReachInterface[];
}

/** One ping to one address of the target. */
export interface Probe {
  iface: string;
  address: string;
  network: string;
  ok: boolean;
  /** Average round trip in ms when replies came. */
  rttMs?: number;
  /** Why ping could not even send (e.g. "Network is unreachable"). */
  error?: string;
}

export type PairKind = "pod→vm" | "vm→pod" | "vm→vm";

export interface PairResult {
  kind: PairKind;
  from: string;
  to: string;
  /** Any address of the target answered. */
  reachable: boolean;
  probes: Probe[];
}

export interface PingSettings {
  count: number;
  /** Seconds to wait for each reply. */
  waitSeconds: number;
}

export interface Reachability {
  instance: string;
  ping: PingSettings;
  workloads: ReachWorkload[];
  pairs: PairResult[];
}

export type Pinger = (netns: string, address: string) => Promise<Omit<Probe, "iface" | "address" | "network">>;

const DEFAULT_PING: PingSettings = { count: 2, waitSeconds: 1 };

/** Pings with lib/kernel; a ping that cannot send (no route) counts as isolated, with the reason. */
function kernelPinger(settings: PingSettings = DEFAULT_PING): Pinger {
  return async (netns, address) => {
    try {
      const r = await ping(netns, address, { count: settings.count, wait: settings.waitSeconds, interval: 0.2 });
      return r.received > 0 ? { ok: true, ...(r.rtt ? { rttMs: r.rtt.avg } : {}) } : { ok: false };
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      const said = e.stderr.trim().split("\n")[0]?.replace(/^ping: (connect: )?/, "") || e.message;
      return { ok: false, error: said };
    }
  };
}

const shortName = (fq: string) => fq.split(":").at(-1) ?? fq;

/**
 * Every VM and pod of the topology with its addressed interfaces: VMs, then pods; the names in
 * `order` first (in that order), the rest grouped by the networks they are on, then by name.
 */
function reachWorkloads(view: TopologyView, order: string[] = []): ReachWorkload[] {
  // Short VN names ("red") unless two VNs share one; then the full fq_name.
  const fqNames = new Set<string>();
  for (const node of view.nodes) {
    for (const n of node.networks) if (n.fqName) fqNames.add(n.fqName);
    for (const w of [...node.vms, ...node.pods]) for (const f of w.interfaces) if (f.network && f.network !== "pod") fqNames.add(f.network);
  }
  const shortCount = new Map<string, number>();
  for (const fq of fqNames) shortCount.set(shortName(fq), (shortCount.get(shortName(fq)) ?? 0) + 1);
  const label = (network: string | undefined, networkId: number | undefined) => {
    if (network === "pod") return "pod network";
    if (network) return (shortCount.get(shortName(network)) ?? 0) > 1 ? network : shortName(network);
    return networkId !== undefined ? `VN ${networkId}` : "";
  };
  const interfaces = (ifaces: TopologyView["nodes"][number]["pods"][number]["interfaces"]): ReachInterface[] =>
    [...ifaces].sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true })).flatMap((f) =>
      f.addresses.map((a) => {
        const [address, plen] = a.split("/");
        return {
          name: f.name,
          address: address!,
          prefixLength: Number(plen ?? 32),
          network: label(f.network, f.networkId),
          ...(f.network && f.network !== "pod" ? { fqName: f.network } : {}),
          ...(f.networkId !== undefined ? { networkId: f.networkId } : {}),
        };
      }),
    );

  const vms = view.nodes.flatMap((node) => node.vms.map((vm) => ({ node: node.name, vm })));
  const nameCount = new Map<string, number>();
  for (const { vm } of vms) nameCount.set(vm.name ?? vm.serverId, (nameCount.get(vm.name ?? vm.serverId) ?? 0) + 1);
  const vmName = (vm: (typeof vms)[number]["vm"]) => {
    const n = vm.name ?? vm.serverId;
    return (nameCount.get(n) ?? 0) > 1 ? `${n} (${vm.serverId.slice(0, 8)})` : n;
  };
  return [
    ...vms.map(({ node, vm }): ReachWorkload => ({ kind: "vm", name: vmName(vm), node, netns: vm.netns, interfaces: interfaces(vm.interfaces) })).sort(sorter(order)),
    ...view.nodes
      .flatMap((node) => node.pods.map((p): ReachWorkload => ({ kind: "pod", name: p.name, node: node.name, netns: p.netns, interfaces: interfaces(p.interfaces) })))
      .sort(sorter(order)),
  ];
}

// Without an order, matrices read best grouped by network: e.g. those on blue, then on blue and
// red, then on red (network names sorted), then by name. Network ids would not do: TF hands them
// out in creation order, which a parallel `pulumi up` does not fix.
function sorter(order: string[]): (a: ReachWorkload, b: ReachWorkload) => number {
  const rank = (w: ReachWorkload) => {
    const i = order.indexOf(w.name);
    return i < 0 ? order.length : i;
  };
  const key = (w: ReachWorkload) => [...new Set(w.interfaces.flatMap((f) => (f.fqName ? [f.network] : [])))].sort();
  return (a, b) => {
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) if (ka[i] !== kb[i]) return ka[i]!.localeCompare(kb[i]!);
    return ka.length - kb.length || a.name.localeCompare(b.name, "en", { numeric: true });
  };
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** The pairs measured: pods -> VMs, VMs -> pods, VMs -> VMs (not a VM to itself). */
function pairsOf(workloads: ReachWorkload[]): Array<{ kind: PairKind; from: ReachWorkload; to: ReachWorkload }> {
  const vms = workloads.filter((w) => w.kind === "vm");
  const pods = workloads.filter((w) => w.kind === "pod");
  return [
    ...pods.flatMap((p) => vms.map((v) => ({ kind: "pod→vm" as const, from: p, to: v }))),
    ...vms.flatMap((v) => pods.map((p) => ({ kind: "vm→pod" as const, from: v, to: p }))),
    ...vms.flatMap((a) => vms.filter((b) => b !== a).map((b) => ({ kind: "vm→vm" as const, from: a, to: b }))),
  ];
}

export interface MeasureOptions {
  pinger?: Pinger;
  ping?: PingSettings;
  /** Pings in flight at once. */
  concurrency?: number;
  /** Workload names to list first, in this order (e.g. an expectation's workloads). */
  order?: string[];
}

/** Pings every address of every target from every source (see pairsOf), in parallel. */
export async function measureReachability(view: TopologyView, opts: MeasureOptions = {}): Promise<Reachability> {
  const settings = opts.ping ?? DEFAULT_PING;
  const pinger = opts.pinger ?? kernelPinger(settings);
  const workloads = reachWorkloads(view, opts.order);
  const pairs = pairsOf(workloads);
  const tasks = pairs.flatMap((pair, i) =>
    pair.to.interfaces.map((f) => async () => ({ i, probe: { iface: f.name, address: f.address, network: f.network, ...(await pinger(pair.from.netns, f.address)) } })),
  );
  const done = await pool(tasks, opts.concurrency ?? 32);
  const probes = pairs.map((): Probe[] => []);
  for (const { i, probe } of done) probes[i]!.push(probe);
  return {
    instance: view.instance,
    ping: settings,
    workloads,
    pairs: pairs.map((p, i) => ({ kind: p.kind, from: p.from.name, to: p.to.name, reachable: probes[i]!.some((x) => x.ok), probes: probes[i]! })),
  };
}

// ---- expectations ---------------------------------------------------------------------------

/**
 * The JSON an expectation file holds:
 *   { "workloads": ["red-pod", "red-vm-1", ...],            // optional; default: every name below
 *     "reachable": ["red-pod <-> red-vm-1", "a -> b", ...] } // "<->" both ways, "->" one way
 * Every measured pair between two of `workloads` must be reachable exactly when listed.
 */
export interface Expectation {
  description?: string;
  workloads: string[];
  reachable: Array<{ from: string; to: string }>;
}

export class ExpectationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExpectationError";
  }
}

export function parseExpectation(json: unknown): Expectation {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ExpectationError("an expectation is a JSON object with a \"reachable\" list");
  const o = json as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !["description", "workloads", "reachable"].includes(k));
  if (unknown.length) throw new ExpectationError(`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (expected description, workloads, reachable)`);
  if (!Array.isArray(o.reachable) || o.reachable.some((r) => typeof r !== "string")) throw new ExpectationError("\"reachable\" must be a list of strings like \"red-pod <-> red-vm-1\"");
  if (o.workloads !== undefined && (!Array.isArray(o.workloads) || o.workloads.some((w) => typeof w !== "string" || w === ""))) {
    throw new ExpectationError("\"workloads\" must be a list of VM and pod names");
  }
  if (o.description !== undefined && typeof o.description !== "string") throw new ExpectationError("\"description\" must be a string");
  const reachable: Expectation["reachable"] = [];
  for (const line of o.reachable as string[]) {
    const m = /^\s*(\S+)\s*(<->|->)\s*(\S+)\s*$/.exec(line);
    if (!m) throw new ExpectationError(`cannot read ${JSON.stringify(line)}: write "a <-> b" (both ways) or "a -> b" (one way)`);
    const [, a, arrow, b] = m;
    if (a === b) throw new ExpectationError(`${JSON.stringify(line)} names the same workload twice`);
    reachable.push({ from: a!, to: b! });
    if (arrow === "<->") reachable.push({ from: b!, to: a! });
  }
  const mentioned = [...new Set(reachable.flatMap((r) => [r.from, r.to]))];
  const workloads = o.workloads === undefined ? mentioned : [...new Set(o.workloads as string[])];
  const outside = mentioned.filter((n) => !workloads.includes(n));
  if (outside.length) throw new ExpectationError(`"reachable" names ${outside.join(", ")}, which "workloads" does not list`);
  return { ...(typeof o.description === "string" ? { description: o.description } : {}), workloads, reachable };
}

export interface Mismatch {
  from: string;
  to: string;
  expected: "reachable" | "isolated";
  measured: PairResult;
}

export interface Comparison {
  matches: boolean;
  /** Measured pairs the expectation decided. */
  checked: number;
  expectedReachable: number;
  mismatches: Mismatch[];
  /** Named workloads the lab does not have. */
  missing: string[];
  /** Listed reachable pairs that are not measured (e.g. pod -> pod). */
  unmeasured: Array<{ from: string; to: string }>;
}

export function compareReachability(r: Reachability, e: Expectation): Comparison {
  const names = new Set(r.workloads.map((w) => w.name));
  const inScope = new Set(e.workloads);
  const wanted = new Set(e.reachable.map((p) => `${p.from}\u0000${p.to}`));
  const measured = new Set(r.pairs.map((p) => `${p.from}\u0000${p.to}`));
  const mismatches: Mismatch[] = [];
  let checked = 0;
  let expectedReachable = 0;
  for (const p of r.pairs) {
    if (!inScope.has(p.from) || !inScope.has(p.to)) continue;
    checked++;
    const expected = wanted.has(`${p.from}\u0000${p.to}`);
    if (expected) expectedReachable++;
    if (expected !== p.reachable) mismatches.push({ from: p.from, to: p.to, expected: expected ? "reachable" : "isolated", measured: p });
  }
  const missing = e.workloads.filter((n) => !names.has(n));
  const unmeasured = e.reachable.filter((p) => names.has(p.from) && names.has(p.to) && !measured.has(`${p.from}\u0000${p.to}`));
  return { matches: mismatches.length === 0 && missing.length === 0 && unmeasured.length === 0, checked, expectedReachable, mismatches, missing, unmeasured };
}
