// NSM Request and Close latency through the lab's NSM manager, for the tungsten forwarder (TF
// objects, vRouter port, veth into the pod) and the kernel forwarder (bridge and veth on the
// node): n connections spread over 4 pods on both k8s nodes, first one at a time, then with
// `concurrency` in flight (throughput), all through NSM's gRPC API to the lab's NSMgr and on to the
// forwarder processes. Every connection must come up UP with its own address and leave nothing behind.
import type { Connection, NetworkServiceRequest } from "../wire/nsm/api.ts";
import { labPod } from "../harness/kube.ts";
import type { LabPod } from "../harness/kube.ts";
import { ratioRow, timingRow } from "./benchmark.ts";
import type { Benchmark, Row } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import type { BenchLab } from "./labs.ts";
import { createNetwork, prefixLengthFor } from "./network.ts";
import { measureKernelFloor } from "./kernelFloor.ts";
import type { FloorSamples } from "./kernelFloor.ts";
import { runPool, summarize } from "./stats.ts";

const PODS = 4;
/** Connections one node holds while the scale probes run, and probes per level. */
const SCALE_LEVELS = [10, 100] as const;
const PROBES = 10;

function attach(id: string, pod: LabPod, service: string): NetworkServiceRequest {
  return {
    connection: { id, network_service: service, labels: { nodeName: pod.node, podName: pod.name } },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: pod.netns } }],
  };
}

/** The two calls measured. */
interface NsmFront {
  request(req: NetworkServiceRequest): Promise<Connection>;
  close(conn: Pick<Connection, "id">): Promise<void>;
}

interface Variant {
  forwarder: string;
  service: string;
  concurrency: number;
}

interface Measured {
  rows: Row[];
  requestMs: number[];
  closeMs: number[];
  /** Requests per second over the whole run. */
  requestRate: number;
}

async function measure(b: BenchLab, front: NsmFront, pods: LabPod[], n: number, v: Variant): Promise<Measured> {
  const ids = Array.from({ length: n }, (_, i) => `${v.service}-c${v.concurrency}-${i}`);
  const addresses = new Set<string>();
  const t0 = performance.now();
  const requestMs = await runPool(n, v.concurrency, async (i) => {
    const c = await front.request(attach(ids[i]!, pods[i % pods.length]!, v.service));
    if (c.state !== "UP") throw new Error(`connection ${c.id} is ${c.state}, not UP`);
    const addr = c.context?.ip_context?.src_ip_addrs?.[0];
    if (!addr) throw new Error(`connection ${c.id} came up without an address`);
    // TF allocates across the VN; a kernel forwarder's bridge (and its addresses) is one node's.
    addresses.add(v.forwarder === "kernel" ? `${pods[i % pods.length]!.node}/${addr}` : addr);
  });
  const requestWall = performance.now() - t0;
  if (addresses.size !== n) throw new Error(`${n} connections got only ${addresses.size} distinct addresses${v.forwarder === "kernel" ? " (per node)" : ""}`);
  const t1 = performance.now();
  const closeMs = await runPool(n, v.concurrency, (i) => front.close({ id: ids[i]! }));
  const closeWall = performance.now() - t1;
  const left = await b.nsm.listConnections();
  if (left.length > 0) throw new Error(`${left.length} connections left after closing all`);
  const rate = (wall: number) => `${((n * 1000) / wall).toFixed(1)}/s over ${(wall / 1000).toFixed(1)} s`;
  const how = `, ${v.concurrency === 1 ? "sequential" : `concurrency ${v.concurrency}`}`;
  return {
    rows: [timingRow(`${v.forwarder} Request${how}`, requestMs, rate(requestWall)), timingRow(`${v.forwarder} Close${how}`, closeMs, rate(closeWall))],
    requestMs,
    closeMs,
    requestRate: (n * 1000) / requestWall,
  };
}

async function up(front: NsmFront, req: NetworkServiceRequest): Promise<void> {
  const c = await front.request(req);
  if (c.state !== "UP") throw new Error(`connection ${c.id} is ${c.state}, not UP`);
}

/**
 * The cost of one more connection while a node already holds `level` of them: the mean of
 * Request + Close of PROBES tungsten connections, each made and closed with `level` others
 * established on the same node (all on that node's pods). Anything that grows with the node's
 * connections (listing every link, port or TF object) shows up as the 100 level costing more.
 */
async function measureScale(front: NsmFront, pods: LabPod[]): Promise<{ rows: Row[]; cost: Map<number, number> }> {
  const node = pods[0]!.node;
  const local = pods.filter((p) => p.node === node);
  const held: string[] = [];
  const rows: Row[] = [];
  const cost = new Map<number, number>();
  try {
    for (const level of SCALE_LEVELS) {
      while (held.length < level) {
        const id = `bench-tf-scale-${held.length}`;
        await up(front, attach(id, local[held.length % local.length]!, "bench-tf"));
        held.push(id);
      }
      const ms: number[] = [];
      for (let k = 0; k < PROBES; k++) {
        const id = `bench-tf-probe-${level}-${k}`;
        const t0 = performance.now();
        await up(front, attach(id, local[k % local.length]!, "bench-tf"));
        await front.close({ id });
        ms.push(performance.now() - t0);
      }
      const row = timingRow(`tungsten Request+Close, ${level} held on ${node}`, ms, "per-connection cost: the mean");
      cost.set(level, row.timing!.mean);
      rows.push(row);
    }
  } finally {
    for (const id of held) await front.close({ id });
  }
  return { rows, cost };
}

/** Issue 11's speed targets, as ratios of numbers measured in this run. */
function targetRows(m: Map<string, Measured>, floor: FloorSamples, scaleCost: Map<number, number> | undefined): Row[] {
  const rows: Row[] = [];
  const seq = m.get("tungsten/1");
  const floorCreate = summarize(floor.create).p50;
  const floorRemove = summarize(floor.remove).p50;
  if (seq) {
    rows.push(ratioRow("tungsten Request p50 / floor create p50", summarize(seq.requestMs).p50, floorCreate, "<=", 2, "ms"));
    rows.push(ratioRow("tungsten Close p50 / floor remove p50", summarize(seq.closeMs).p50, floorRemove, "<=", 2, "ms"));
  }
  const par = [...m.entries()].find(([k]) => k.startsWith("tungsten/") && k !== "tungsten/1")?.[1];
  if (seq && par) rows.push(ratioRow("tungsten Requests/s in flight / sequential", par.requestRate, seq.requestRate, ">=", 2, "/s"));
  const [low, high] = SCALE_LEVELS.map((l) => scaleCost?.get(l));
  if (low !== undefined && high !== undefined) rows.push(ratioRow(`tungsten cost per connection at ${SCALE_LEVELS[1]} / at ${SCALE_LEVELS[0]}`, high, low, "<=", 1.2, "ms"));
  return rows;
}

async function expectNoTfLeftovers(b: BenchLab): Promise<void> {
  for (const type of ["virtual-machine", "virtual-machine-interface", "instance-ip"]) {
    const left = await b.tf.list(type);
    if (left.length > 0) throw new Error(`${left.length} TF ${type} objects left after closing every tungsten connection`);
  }
}

export const nsmLatency: Benchmark = {
  name: "nsm",
  title: "NSM Request / Close (the lab's NSMgr over NSM's gRPC API, forwarder processes)",
  defaultN: 100,
  async run(ctx) {
    const b = await startBenchLab("bench-nsm", { kubernetes: true });
    try {
      const len = prefixLengthFor(Math.max(ctx.n, SCALE_LEVELS[1] + PROBES));
      const net = await createNetwork(b.tf, "bench-nsm", "10.9.0.0", len);
      await b.nsm.upsertNetworkService({ name: "bench-tf", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: net.fqName } });
      await b.nsm.upsertNetworkService({ name: "bench-kernel", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: `10.61.0.0/${len}` } });
      const pods: LabPod[] = [];
      for (let i = 0; i < PODS; i++) pods.push(labPod(await b.lab.createPod(`bench-${i}`, { node: `k8s-${(i % 2) + 1}` })));

      const variants: Variant[] = [];
      for (const concurrency of [1, ...(ctx.concurrency > 1 ? [ctx.concurrency] : [])]) {
        variants.push({ forwarder: "tungsten", service: "bench-tf", concurrency }, { forwarder: "kernel", service: "bench-kernel", concurrency });
      }
      const rows: Row[] = [];
      ctx.log(`kernel floor: ${ctx.n} interfaces, one ip -batch each to create and to remove`);
      const floor = await measureKernelFloor(ctx.n);
      rows.push(timingRow("floor create (one ip -n <pod> -batch -)", floor.create), timingRow("floor remove (one ip -n <pod> -batch -)", floor.remove));
      const measured = new Map<string, Measured>();
      for (const v of variants) {
        ctx.log(`${v.forwarder}, concurrency ${v.concurrency}: ${ctx.n} connections`);
        try {
          const m = await measure(b, b.nsm, pods, ctx.n, v);
          rows.push(...m.rows);
          measured.set(`${v.forwarder}/${v.concurrency}`, m);
          if (v.forwarder === "tungsten") await expectNoTfLeftovers(b);
        } catch (e) {
          rows.push({ what: `${v.forwarder}, concurrency ${v.concurrency}`, skipped: `failed: ${(e as Error).message.split("\n")[0]}` });
          // Whatever half-built connections remain would skew the next variant.
          for (const c of await b.nsm.listConnections()) await b.nsm.close({ id: c.id }).catch(() => undefined);
        }
      }
      let scaleCost: Map<number, number> | undefined;
      ctx.log(`tungsten scale: ${PROBES} probes with ${SCALE_LEVELS.join(", then ")} connections held on one node`);
      try {
        const scale = await measureScale(b.nsm, pods);
        rows.push(...scale.rows);
        scaleCost = scale.cost;
        await expectNoTfLeftovers(b);
      } catch (e) {
        rows.push({ what: "tungsten scale", skipped: `failed: ${(e as Error).message.split("\n")[0]}` });
      }
      rows.push(...targetRows(measured, floor, scaleCost));
      return rows;
    } finally {
      await b.stop();
    }
  },
};
