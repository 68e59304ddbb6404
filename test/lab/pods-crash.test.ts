// The lab's kubelet commits in an order a crash cannot split (a spawned lab daemon, killed by its
// crash hook at a named step, then started again): its pod row is written before the namespace is
// made, so a kill right after the row or right after the namespace leaves a pod the restart
// finishes (Ready, its namespace and eth0 there, a delete removes all of it); a namespace the data
// plane holds that no pod row owns is removed at start.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_CRASH_ENV } from "../../lib/crashPoint.ts";
import { netns } from "../../lib/kernel/index.ts";
import { podNetns } from "../../lab/dataplane/names.ts";
import { DataplaneState } from "../../lab/dataplane/state.ts";
import { runtimeNameOf } from "../../lab/kube/podStore.ts";
import { openDb } from "../../lab/store/db.ts";
import { runningDaemonPid } from "../../lab/lifecycle.ts";
import { eventually } from "../../harness/eventually.ts";
import { SLEEPER, getPod, isReady, labPod, podPath } from "../../harness/kube.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";

let lab: TestLab;

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1"] });
}, LAB_TIMEOUT);

afterAll(async () => {
  delete process.env[LAB_CRASH_ENV];
  await lab?.stop();
}, LAB_TIMEOUT);

/** Restarts the daemon with the crash hook armed at `step`; the kubelet starting pod `name` then kills it there. */
async function crashWhileStarting(step: string, name: string, annotations?: Record<string, string>): Promise<void> {
  process.env[LAB_CRASH_ENV] = step;
  try {
    await lab.restart();
  } finally {
    delete process.env[LAB_CRASH_ENV];
  }
  const pid = runningDaemonPid(lab.stateDir);
  await lab.kube!.create(podPath("default"), { apiVersion: "v1", kind: "Pod", metadata: { name, ...(annotations ? { annotations } : {}) }, spec: { nodeName: "k8s-1", containers: [{ name: "main", ...SLEEPER }] } });
  await eventually(() => pid === undefined || runningDaemonPid(lab.stateDir) !== pid, { what: `the lab daemon to die at ${step}`, timeoutMs: 30_000 });
  await lab.restart();
}

const podNamespaces = () => lab.namespaces().filter((ns) => ns.startsWith(`${lab.prefix}-pod-`));

describe("a lab daemon killed while its kubelet starts a pod", () => {
  it.each([
    ["kube.pod-recorded", "after-record"],
    ["kube.pod-created", "after-netns"],
  ])("at %s: the restart finishes the pod, which then deletes completely", async (step, name) => {
    await crashWhileStarting(step, name);
    const ready = await eventually(async () => {
      const p = await getPod(lab.kube!, name);
      return isReady(p) && p;
    }, { what: `pod ${name} Ready after the restart`, timeoutMs: 60_000 });
    const pod = labPod(ready);
    expect(pod).toMatchObject({ name, node: "k8s-1", netns: podNetns(lab.prefix, runtimeNameOf("default", name)), ip: expect.stringMatching(/^10\.244\.1\.\d+$/) });
    expect((await lab.inLab(name, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])).stdout).toContain(`${pod.ip}/16`);
    // Exactly the API server's pods have namespaces: nothing half-made was left beside it.
    expect(podNamespaces()).toEqual([pod.netns]);
    await lab.deletePod(name);
    expect(podNamespaces()).toEqual([]);
    expect((await lab.status()).counts.pods).toBe(0);
  });
});

describe("a lab daemon killed after nsc-init requested a pod's interfaces, before the pod's status said so", () => {
  it("restarts to the same connection: one nsm-1, one connection, and a delete removes both", async () => {
    const nsm = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: lab.endpoints.spiffe });
    try {
      await nsm.registerService({ name: "crash-red", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.65.0.0/24" } });
      await crashWhileStarting("kube.nsc-requested", "annotated", { "networkservicemesh.io": "kernel://crash-red/nsm-1" });
      const ready = await eventually(async () => {
        const p = await getPod(lab.kube!, "annotated");
        return isReady(p) && p;
      }, { what: "pod annotated Ready after the restart", timeoutMs: 60_000 });
      const links = (await lab.inLab("annotated", ["ip", "-o", "link", "show"])).stdout.split("\n").filter((l) => / nsm-\d+[@:]/.test(l));
      expect(links).toHaveLength(1);
      const mine = (await nsm.listConnections()).filter((c) => c.labels?.podUid === ready.metadata.uid);
      expect(mine.map((c) => c.id)).toEqual([`nsc-${ready.metadata.uid}-1`]);
      await lab.deletePod("annotated");
      expect(await nsm.listConnections()).toEqual([]);
      expect(podNamespaces()).toEqual([]);
    } finally {
      nsm.dispose();
    }
  });
});

describe("a namespace the data plane holds without a pod row", () => {
  it("is removed when the lab starts", async () => {
    await lab.restart(async () => {
      // What a crashed daemon of 0.2 (its pod API) could leave: the data plane's row and namespace, no owner.
      const db = openDb(lab.stateDir);
      try {
        new DataplaneState(db).savePod({ name: "orphan", uid: randomUUID(), node: "k8s-1", ip: "10.244.1.200", mac: "0a:58:0a:f4:01:c8" });
      } finally {
        db.close();
      }
      await netns.add(podNetns(lab.prefix, "orphan"));
    });
    expect(podNamespaces()).toEqual([]);
    const db = openDb(lab.stateDir);
    try {
      expect(new DataplaneState(db).listPods()).toEqual([]);
    } finally {
      db.close();
    }
  });
});
