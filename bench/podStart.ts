// Kubernetes pods on the lab: a bare Pod created through the API server until the lab's kubelet
// reports it Ready (its netns made, eth0 up, annotated), then until attached (the NSM Request a
// PodAttachment sends, to a TF network through the tungsten forwarder), and a delete until its
// namespace is gone. Polled every 10 ms, so the figures carry up to 10 ms of polling.
import { randomUUID } from "node:crypto";
import * as netns from "../lib/kernel/netns.ts";
import { eventually } from "../harness/eventually.ts";
import { SLEEPER, getPod, isReady, labPod, podPath } from "../harness/kube.ts";
import { podKernelRequest } from "../wire/nsm/podRequest.ts";
import { timingRow } from "./benchmark.ts";
import type { Benchmark } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import { createNetwork } from "./network.ts";

const POLL_MS = 10;
const WAIT = { timeoutMs: 60_000, intervalMs: POLL_MS };

export const podStart: Benchmark = {
  name: "pods",
  title: "Kubernetes pods on the lab: create to Ready, to attached (NSM Request), delete to netns gone",
  defaultN: 20,
  async run(ctx) {
    const b = await startBenchLab("bench-pods", { kubernetes: true });
    try {
      const kube = b.lab.kube!;
      const net = await createNetwork(b.tf, "bench-pods", "10.9.0.0", 24);
      await b.nsm.upsertNetworkService({ name: "bench-pods", payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: net.fqName } });
      const ready: number[] = [];
      const attached: number[] = [];
      const deleted: number[] = [];
      for (let i = 0; i < ctx.n; i++) {
        const name = `bench-pod-${i}`;
        const t0 = performance.now();
        await kube.create(podPath("default"), { apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { nodeName: `k8s-${(i % 2) + 1}`, terminationGracePeriodSeconds: 0, containers: [{ name: "main", ...SLEEPER }] } });
        const pod = labPod(
          await eventually(
            async () => {
              const p = await getPod(kube, name);
              return isReady(p) && p;
            },
            { what: `pod ${name} Ready`, ...WAIT },
          ),
        );
        ready.push(performance.now() - t0);
        const conn = await b.nsm.request(podKernelRequest({ id: randomUUID(), networkService: "bench-pods", pod: { name, namespace: "default", uid: pod.uid, node: pod.node, netns: pod.netns } }));
        if (!conn.context?.ip_context?.src_ip_addrs?.length) throw new Error(`pod ${name} was attached without an address`);
        attached.push(performance.now() - t0);
        const t1 = performance.now();
        await kube.delete(podPath("default", name));
        await eventually(async () => !netns.exists(pod.netns) && (await getPod(kube, name)) === undefined, { what: `pod ${name} and its netns gone`, ...WAIT });
        deleted.push(performance.now() - t1);
        if ((i + 1) % 5 === 0) ctx.log(`${i + 1}/${ctx.n} pods`);
      }
      if ((await b.nsm.listConnections()).length > 0) throw new Error("connections left after their pods were deleted");
      const poll = `polled every ${POLL_MS} ms`;
      return [
        timingRow("create -> Ready (kubelet: netns, eth0, annotation, status)", ready, poll),
        timingRow("create -> attached (then one NSM Request, tungsten)", attached, poll),
        timingRow("delete -> pod and netns gone (connections closed first)", deleted, poll),
      ];
    } finally {
      await b.stop();
    }
  },
};
