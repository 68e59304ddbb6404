// The in-process variant of the fixture: the same lab, composed inside the test process (cheaper
// for API tests), with the same guarantees: real pods on the pod network (Kubernetes pods, run by the
// lab's kubelet inside the test process), and nothing left after stop().
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startLabInstance } from "../../lab/daemon.ts";
import { resolveInstance } from "../../lab/instance.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { labPod } from "../../harness/kube.ts";
import { LAB_TIMEOUT, startLab, testInstanceIdentity } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";

let lab: TestLab;

beforeAll(async () => {
  lab = await startLab({ inProcess: true, kubernetes: true, computeNodes: ["c1"], k8sNodes: ["k1", "k2"] });
}, LAB_TIMEOUT);

afterAll(async () => {
  const prefix = lab?.prefix;
  await lab?.stop();
  if (prefix) expect(netns.list(`${prefix}-`)).toEqual([]);
}, LAB_TIMEOUT);

it("runs pods on the chosen nodes (the scheduler places one left unbound), and they reach each other", async () => {
  expect((await lab.status()).nodes.map((n) => `${n.name}:${n.kind}`)).toEqual(["c1:compute", "k1:k8s", "k2:k8s"]);
  const a = labPod(await lab.createPod("a", { node: "k1" }));
  const b = labPod(await lab.createPod("b", { node: "k2" }));
  const c = labPod(await lab.createPod("c"));
  expect([a.node, b.node]).toEqual(["k1", "k2"]);
  expect(["k1", "k2"]).toContain(c.node);
  expect((await lab.ping("a", b.ip, { count: 1, wait: 2 })).ok).toBe(true);
  await lab.deletePod("c");
});

it("keeps pods across an in-process restart", async () => {
  await lab.restart();
  const pods = (await lab.topology()).nodes.flatMap((n) => n.pods);
  expect(pods.map((p) => p.name).sort()).toEqual(["a", "b"]);
  expect(lab.namespaces()).toEqual(expect.arrayContaining(pods.map((p) => p.netns)));
}, LAB_TIMEOUT);

it("refuses to start on a port that is taken, saying which, and builds nothing in the kernel", async () => {
  const id = testInstanceIdentity("busy");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-busy-"));
  const blocker = net.createServer();
  try {
    const config = await resolveInstance({ name: id.name, prefix: id.prefix, stateDir: dir, ports: "auto" });
    await new Promise<void>((r) => blocker.listen(config.ports.tf, "127.0.0.1", () => r()));
    await expect(startLabInstance(config, () => {})).rejects.toThrow(`port ${config.ports.tf} (tf) is already in use on 127.0.0.1`);
    expect(netns.list(`${id.prefix}-`)).toEqual([]);
  } finally {
    blocker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
