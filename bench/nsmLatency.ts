// NSM Request and Close latency through the lab's NSM manager, for the tungsten forwarder (TF
// objects, vRouter port, veth into the pod) and the kernel forwarder (bridge and veth on the
// node): n connections spread over 4 pods on both k8s nodes, first one at a time, then with
// `concurrency` in flight (throughput); one at a time also through NSM's gRPC API, beside the
// JSON one. Every connection must come up UP with its own address and leave nothing behind.
import type { Connection, NetworkServiceRequest } from "../wire/nsm/api.ts";
import { NsmGrpcClient } from "../wire/nsm/grpcClient.ts";
import type { PodInfo } from "../wire/pods.ts";
import { timingRow } from "./benchmark.ts";
import type { Benchmark, Row } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import type { BenchLab } from "./labs.ts";
import { createNetwork, prefixLengthFor } from "./network.ts";
import { runPool } from "./stats.ts";

const PODS = 4;

function attach(id: string, pod: PodInfo, service: string): NetworkServiceRequest {
  return {
    connection: { id, network_service: service, labels: { nodeName: pod.node, podName: pod.name } },
    mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: pod.netns } }],
  };
}

/** The two calls measured, as both NSM clients (JSON and gRPC) offer them. */
interface NsmFront {
  request(req: NetworkServiceRequest): Promise<Connection>;
  close(conn: Pick<Connection, "id">): Promise<void>;
}

interface Variant {
  forwarder: string;
  service: string;
  concurrency: number;
  /** Through NSM's gRPC API instead of the JSON one. */
  grpc?: boolean;
}

async function measure(b: BenchLab, front: NsmFront, pods: PodInfo[], n: number, v: Variant): Promise<Row[]> {
  const ids = Array.from({ length: n }, (_, i) => `${v.service}-c${v.concurrency}${v.grpc ? "-grpc" : ""}-${i}`);
  const addresses = new Set<string>();
  const t0 = performance.now();
  const requestMs = await runPool(n, v.concurrency, async (i) => {
    const c = await front.request(attach(ids[i]!, pods[i % pods.length]!, v.service));
    if (c.state !== "UP") throw new Error(`connection ${c.id} is ${c.state}, not UP`);
    const addr = c.context?.ip_context?.src_ip_addrs?.[0];
    if (!addr) throw new Error(`connection ${c.id} came up without an address`);
    addresses.add(addr);
  });
  const requestWall = performance.now() - t0;
  if (addresses.size !== n) throw new Error(`${n} connections got only ${addresses.size} distinct addresses`);
  const t1 = performance.now();
  const closeMs = await runPool(n, v.concurrency, (i) => front.close({ id: ids[i]! }));
  const closeWall = performance.now() - t1;
  const left = await b.nsm.listConnections();
  if (left.length > 0) throw new Error(`${left.length} connections left after closing all`);
  const rate = (wall: number) => `${((n * 1000) / wall).toFixed(1)}/s over ${(wall / 1000).toFixed(1)} s`;
  const how = `${v.grpc ? " (gRPC)" : ""}, ${v.concurrency === 1 ? "sequential" : `concurrency ${v.concurrency}`}`;
  return [timingRow(`${v.forwarder} Request${how}`, requestMs, rate(requestWall)), timingRow(`${v.forwarder} Close${how}`, closeMs, rate(closeWall))];
}

async function expectNoTfLeftovers(b: BenchLab): Promise<void> {
  for (const type of ["virtual-machine", "virtual-machine-interface", "instance-ip"]) {
    const left = await b.tf.list(type);
    if (left.length > 0) throw new Error(`${left.length} TF ${type} objects left after closing every tungsten connection`);
  }
}

export const nsmLatency: Benchmark = {
  name: "nsm",
  title: "NSM Request / Close (lab NSM manager over its JSON and gRPC APIs)",
  defaultN: 100,
  async run(ctx) {
    const b = await startBenchLab("bench-nsm");
    const grpc = new NsmGrpcClient(b.lab.endpoints.nsmGrpc);
    try {
      const len = prefixLengthFor(ctx.n);
      const net = await createNetwork(b.tf, "bench-nsm", "10.9.0.0", len);
      await b.nsm.upsertNetworkService({ name: "bench-tf", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: net.fqName } });
      await b.nsm.upsertNetworkService({ name: "bench-kernel", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: `10.61.0.0/${len}` } });
      const pods: PodInfo[] = [];
      for (let i = 0; i < PODS; i++) pods.push(await b.pods.create({ name: `bench-${i}`, node: `k8s-${(i % 2) + 1}` }));

      const variants: Variant[] = [];
      for (const concurrency of [1, ...(ctx.concurrency > 1 ? [ctx.concurrency] : [])]) {
        variants.push({ forwarder: "tungsten", service: "bench-tf", concurrency }, { forwarder: "kernel", service: "bench-kernel", concurrency });
        if (concurrency === 1) variants.push({ ...variants.at(-2)!, grpc: true }, { ...variants.at(-1)!, grpc: true });
      }
      const rows: Row[] = [];
      for (const v of variants) {
        ctx.log(`${v.forwarder}${v.grpc ? " over gRPC" : ""}, concurrency ${v.concurrency}: ${ctx.n} connections`);
        try {
          rows.push(...(await measure(b, v.grpc ? grpc : b.nsm, pods, ctx.n, v)));
          if (v.forwarder === "tungsten") await expectNoTfLeftovers(b);
        } catch (e) {
          rows.push({ what: `${v.forwarder}${v.grpc ? " (gRPC)" : ""}, concurrency ${v.concurrency}`, skipped: `failed: ${(e as Error).message.split("\n")[0]}` });
          // Whatever half-built connections remain would skew the next variant.
          for (const c of await b.nsm.listConnections()) await b.nsm.close({ id: c.id }).catch(() => undefined);
        }
      }
      return rows;
    } finally {
      grpc.dispose();
      await b.stop();
    }
  },
};
