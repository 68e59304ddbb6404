// Round-trip time through the lab's data plane next to the floor the kernel gives: a bare veth
// pair between two fresh namespaces. `ping -c n -i 0.01` (root may go below 0.2 s), after a short
// warm-up so ARP and neighbour resolution are not counted.
import * as link from "../lib/kernel/link.ts";
import * as netns from "../lib/kernel/netns.ts";
import { parsePing } from "../lib/kernel/ping.ts";
import type { NovaServer } from "../wire/openstack/index.ts";
import { labPod } from "../harness/kube.ts";
import { timingRow } from "./benchmark.ts";
import type { Benchmark, Row } from "./benchmark.ts";
import { scratchNamespaces, startBenchLab } from "./labs.ts";
import type { BenchLab } from "./labs.ts";
import { createNetwork } from "./network.ts";

const INTERVAL = "0.01";

/** Per-packet RTTs (ms) and ping's own summary. */
async function pingFrom(ns: string, target: string, count: number): Promise<{ rtts: number[]; note: string }> {
  const res = await netns.exec(ns, ["ping", "-n", "-c", String(count), "-i", INTERVAL, "-W", "1", target], { allowFail: true, timeoutMs: 60_000 });
  const rtts = [...res.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const s = parsePing(res.stdout);
  if (s.received === 0) throw new Error(`no reply from ${target} in ${ns}: ${res.stdout.trim().split("\n").at(-1) ?? res.stderr}`);
  const loss = ((s.transmitted - s.received) / s.transmitted) * 100;
  return { rtts, note: `ping avg ${s.rtt!.avg.toFixed(3)} mdev ${s.rtt!.mdev.toFixed(3)}, loss ${loss.toFixed(0)}%` };
}

async function measure(what: string, ns: string, target: string, count: number): Promise<Row> {
  await pingFrom(ns, target, 3);
  const r = await pingFrom(ns, target, count);
  return timingRow(what, r.rtts, r.note);
}

async function bareVeth(count: number): Promise<Row> {
  const scratch = scratchNamespaces();
  try {
    const a = await scratch.netns("va");
    const b = await scratch.netns("vb");
    await link.createVeth("veth-a", "veth-b", { netnsA: a, netnsB: b });
    await link.replaceAddress("veth-a", "10.99.0.1/30", a);
    await link.replaceAddress("veth-b", "10.99.0.2/30", b);
    await link.setUp("veth-a", a);
    await link.setUp("veth-b", b);
    return await measure("bare veth pair, netns -> netns", a, "10.99.0.2", count);
  } finally {
    await scratch.release();
  }
}

function firstAddress(s: NovaServer): string {
  const addr = Object.values(s.addresses ?? {}).flat()[0]?.addr;
  if (!addr) throw new Error(`server ${s.name} has no address`);
  return addr;
}

async function bootOn(b: BenchLab, name: string, host: string, networkUuid: string): Promise<NovaServer> {
  const { nova, glance } = b.openstack;
  const image = await glance.findImage("cirros-0.6.2");
  const flavor = await nova.findFlavor("m1.tiny");
  if (!image || !flavor) throw new Error("the lab has no cirros-0.6.2 image or m1.tiny flavor");
  const { id } = await nova.createServer({ name, imageRef: image.id, flavorRef: flavor.id, networks: [{ uuid: networkUuid }], host });
  return nova.waitForStatus(id, "ACTIVE", { intervalMs: 50, timeoutMs: 120_000 });
}

async function overlay(count: number, log: (m: string) => void): Promise<Row[]> {
  const b = await startBenchLab("bench-ping", { kubernetes: true });
  try {
    const net = await createNetwork(b.tf, "bench-ping", "10.8.0.0", 24);
    await b.nsm.upsertNetworkService({ name: "bench-ping", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: net.fqName } });
    log("booting VMs on compute-1 and compute-2, a pod on k8s-1 attached to the same network");
    const vm1 = await bootOn(b, "bench-vm-1", "compute-1", net.uuid);
    const vm2 = await bootOn(b, "bench-vm-2", "compute-2", net.uuid);
    const pod = labPod(await b.lab.createPod("bench-pod", { node: "k8s-1" }));
    const conn = await b.nsm.request({
      connection: { id: "bench-ping", network_service: "bench-ping", labels: { nodeName: pod.node, podName: pod.name } },
      mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: pod.netns } }],
    });
    const podIp = conn.context?.ip_context?.src_ip_addrs?.[0]?.split("/")[0];
    if (!podIp) throw new Error("the pod's NSM connection has no address");
    const vm1Ns = await b.lab.netnsOf(vm1.id);
    return [
      await measure("pod (k8s-1) -> VM (compute-1), VXLAN", pod.netns, firstAddress(vm1), count),
      await measure("VM (compute-1) -> pod (k8s-1), VXLAN", vm1Ns, podIp, count),
      await measure("VM (compute-1) -> VM (compute-2), VXLAN", vm1Ns, firstAddress(vm2), count),
    ];
  } finally {
    await b.stop();
  }
}

export const pingRtt: Benchmark = {
  name: "ping",
  title: `Ping RTT (ping -i ${INTERVAL}, after 3 warm-up packets)`,
  defaultN: 50,
  async run(ctx) {
    return [await bareVeth(ctx.n), ...(await overlay(ctx.n, ctx.log))];
  },
};
