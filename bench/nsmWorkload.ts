// NSM's pod annotation on the lab: a pod created through the API server until Ready with no, one
// and two NSM interfaces (the webhook's nsc-init requests them, tungsten forwarder, before the pod
// turns Ready); then a Deployment carrying the annotation scaled from 3 to 30 replicas (until all
// 30 are Ready and attached) and back to 3 (until the 27 are gone with their connections).
import { eventually } from "../harness/eventually.ts";
import { SLEEPER, getPod, isReady, podPath } from "../harness/kube.ts";
import { resourcePath } from "../wire/kubernetes.ts";
import type { KubernetesClient, Pod } from "../wire/kubernetes.ts";
import { NSM_ANNOTATION } from "../wire/nsm/annotation.ts";
import type { NsmGrpcClient } from "../wire/nsm/grpcClient.ts";
import { timingRow } from "./benchmark.ts";
import type { Benchmark, Row } from "./benchmark.ts";
import { startBenchLab } from "./labs.ts";
import { createNetwork } from "./network.ts";

const POLL_MS = 10;
const WAIT = { timeoutMs: 120_000, intervalMs: POLL_MS };
const SCALE_WAIT = { timeoutMs: 600_000, intervalMs: 100 };
const DEPLOYMENTS = resourcePath("apps/v1", "deployments", "default");

async function podReadyMs(kube: KubernetesClient, name: string, node: string, annotation: string | undefined): Promise<number> {
  const t0 = performance.now();
  await kube.create(podPath("default"), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...(annotation ? { annotations: { [NSM_ANNOTATION]: annotation } } : {}) },
    spec: { nodeName: node, terminationGracePeriodSeconds: 0, containers: [{ name: "main", ...SLEEPER }] },
  });
  await eventually(async () => isReady(await getPod(kube, name)), { what: `pod ${name} Ready`, ...WAIT });
  const ms = performance.now() - t0;
  await kube.delete(podPath("default", name));
  await eventually(async () => (await getPod(kube, name)) === undefined, { what: `pod ${name} gone`, ...WAIT });
  return ms;
}

/** Waits until the Deployment's pods are exactly `n`, all Ready, with one connection each; ms taken. */
async function settle(kube: KubernetesClient, nsm: NsmGrpcClient, n: number): Promise<number> {
  const t0 = performance.now();
  await eventually(
    async () => {
      const pods = (await kube.list<Pod>(podPath("default"), { labelSelector: "app=bench-fleet" })).items;
      if (pods.length !== n || !pods.every(isReady)) return false;
      return (await nsm.listConnections()).filter((c) => c.labels?.podName?.startsWith("bench-fleet-")).length === n;
    },
    { what: `${n} attached replicas`, ...SCALE_WAIT },
  );
  return performance.now() - t0;
}

export const nsmWorkload: Benchmark = {
  name: "workload",
  title: "NSM's pod annotation: pod create -> Ready with 0, 1 and 2 interfaces; a Deployment scaled 3 -> 30 -> 3",
  defaultN: 10,
  async run(ctx) {
    const b = await startBenchLab("bench-wl", { kubernetes: true });
    try {
      const kube = b.lab.kube!;
      for (const [name, base] of [["bench-red", "10.9.0.0"], ["bench-blue", "10.9.64.0"]] as const) {
        const net = await createNetwork(b.tf, name, base, 24);
        await b.nsm.upsertNetworkService({ name, payload: "ETHERNET", forwarder: "tungsten", tungsten: { virtual_network: net.fqName } });
      }
      const rows: Row[] = [];
      const kinds = [
        ["no NSM interface", undefined],
        ["1 NSM interface (nsc-init: 1 Request)", "kernel://bench-red/nsm-1"],
        ["2 NSM interfaces (nsc-init: 2 Requests)", "kernel://bench-red/nsm-1,kernel://bench-blue/nsm-2"],
      ] as const;
      for (const [what, annotation] of kinds) {
        const ms: number[] = [];
        for (let i = 0; i < ctx.n; i++) ms.push(await podReadyMs(kube, `bench-ann-${i}`, `k8s-${(i % 2) + 1}`, annotation));
        rows.push(timingRow(`pod create -> Ready, ${what}`, ms, `polled every ${POLL_MS} ms`));
        ctx.log(`${what}: done`);
      }

      const t0 = performance.now();
      await kube.create(DEPLOYMENTS, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "bench-fleet" },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: "bench-fleet" } },
          template: {
            metadata: { labels: { app: "bench-fleet" }, annotations: { [NSM_ANNOTATION]: "kernel://bench-red/nsm-1" } },
            spec: { terminationGracePeriodSeconds: 0, containers: [{ name: "main", ...SLEEPER }] },
          },
        },
      });
      await settle(kube, b.nsm, 3);
      const first = performance.now() - t0;
      ctx.log("3 replicas attached; scaling to 30");
      const scale = async (n: number) => {
        await kube.patch(`${DEPLOYMENTS}/bench-fleet`, { spec: { replicas: n } });
        return settle(kube, b.nsm, n);
      };
      const up = await scale(30);
      ctx.log("30 replicas attached; scaling back to 3");
      const down = await scale(3);
      await kube.delete(`${DEPLOYMENTS}/bench-fleet`);
      await settle(kube, b.nsm, 0);
      const once = (what: string, ms: number, note: string): Row => ({ what, n: 1, note: `${(ms / 1000).toFixed(2)} s  ${note}` });
      rows.push(
        once("Deployment of 3 created -> 3 replicas Ready and attached", first, ""),
        once("scale 3 -> 30: until 30 Ready and attached", up, `${(up / 27).toFixed(0)} ms per added replica`),
        once("scale 30 -> 3: until 27 gone with their connections", down, `${(down / 27).toFixed(0)} ms per removed replica`),
      );
      return rows;
    } finally {
      await b.stop();
    }
  },
};
