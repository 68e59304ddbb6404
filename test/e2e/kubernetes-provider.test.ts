// @pulumi/kubernetes against the lab's own API server (Automation API): a Namespace and a
// Deployment come up through the real provider plugin (tools/pulumi-kubernetes), their pods run on
// the lab's k8s nodes with a netns each; a PodAttachment attaches one of the Deployment's pods to
// red and detaches it again without restarting it; destroy leaves neither objects nor namespaces.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { labStack } from "../../harness/pulumiStack.ts";
import type { LabStack } from "../../harness/pulumiStack.ts";
import { ensureBinaries } from "../../lab/kube/binaries.ts";
import { runtimeNameOf } from "../../lab/kube/podStore.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { labClients } from "../../harness/labClients.ts";
import type { LabClients } from "../../harness/labClients.ts";
import type { KubernetesClient } from "../../wire/kubernetes.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import type { Pod } from "../../wire/kubernetes.ts";
import { labKube } from "../../harness/kube.ts";

const run = promisify(execFile);
const workDir = join(repoRoot, "test", "e2e", "programs", "kubernetes");
const stackConfigDir = join(repoRoot, ".state", "stacks", "e2e-kubernetes");
const plugin = join(repoRoot, ".tools", "bin", "pulumi-resource-kubernetes");
const BUILD_TIMEOUT = 60 * 60_000;
const STEP = 300_000;
const NS = "pulumi-apps";

let lab: TestLab;
let e2e: LabStack;
let kube: KubernetesClient;
let api: LabClients;

beforeAll(async () => {
  await ensureBinaries((line) => console.log(line));
  if (!fs.existsSync(plugin)) await run("bash", [join(repoRoot, "tools", "pulumi-kubernetes", "build.sh")], { timeout: BUILD_TIMEOUT, maxBuffer: 16 << 20 });
}, BUILD_TIMEOUT);

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1", "k8s-2"] });
  kube = labKube(lab);
  api = labClients(lab);
  e2e = await labStack(lab, workDir, stackConfigDir, { "kubernetes-e2e:kubeconfig": lab.endpoints.kubernetes!.kubeconfig, "kubernetes-e2e:namespace": NS }, { namePrefix: "e2e-k8s" });
}, 180_000);

afterAll(async () => {
  try {
    await e2e?.remove();
  } finally {
    await lab?.stop();
  }
}, STEP);

const podsOf = async () => (await kube.list<Pod>(resourcePath("v1", "pods", NS), { labelSelector: "app=hello" })).items;
const netnsOfPod = (p: Pod) => `${lab.prefix}-pod-${runtimeNameOf(NS, p.metadata.name)}`;

describe("@pulumi/kubernetes on the lab's API server", () => {
  let namespaces: string[] = [];

  it("applies a Namespace and a Deployment whose pods run on the lab's nodes, each in its own netns", async () => {
    const result = await e2e.stack.up();
    expect(result.summary.result).toBe("succeeded");
    expect(result.outputs.namespace!.value).toBe(NS);
    expect(result.outputs.readyReplicas!.value).toBe(2);
    const pods = await podsOf();
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(p.status?.phase).toBe("Running");
      expect(["k8s-1", "k8s-2"]).toContain(p.spec.nodeName);
      const ns = netnsOfPod(p);
      expect(netns.exists(ns), ns).toBe(true);
      const addr = await lab.inLab(ns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
      expect(addr.stdout).toContain(`${p.status!.podIP}/16`);
    }
    namespaces = pods.map(netnsOfPod);
  }, STEP);

  let attachedName = "";
  const uids = async () => Object.fromEntries((await podsOf()).map((p) => [p.metadata.name, p.metadata.uid]));
  const links = async (ns: string) => (await lab.inLab(ns, ["ip", "-o", "link", "show"])).stdout;

  it("attaches one of the Deployment's running pods to red (nsm-1 in its netns), without restarting any pod", async () => {
    const before = await uids();
    const target = (await podsOf())[0]!;
    attachedName = target.metadata.name;
    await e2e.stack.setConfig("kubernetes-e2e:attachPod", { value: target.metadata.name });
    const started = Date.now();
    const result = await e2e.stack.up();
    console.log(`attach of a running Deployment pod: ${Date.now() - started} ms for the up`);
    expect(result.summary.result).toBe("succeeded");
    const attached = result.outputs.attached!.value as { pod: string; podUid: string; netns: string; node: string; ip: string; mac: string };
    expect(attached).toMatchObject({ pod: target.metadata.name, podUid: target.metadata.uid, node: target.spec.nodeName, netns: netnsOfPod(target) });
    expect(attached.ip).toMatch(/^10\.1\.1\./);
    expect(await uids()).toEqual(before);
    const addr = await lab.inLab(netnsOfPod(target), ["ip", "-4", "-o", "addr", "show", "dev", "nsm-1"]);
    expect(addr.stdout).toContain(`${attached.ip}/24`);
    expect(await links(netnsOfPod(target))).toContain(attached.mac);
    expect((await api.nsm.listConnections()).map((c) => c.labels?.podUid)).toEqual([target.metadata.uid]);
  }, STEP);

  it("detaches it again: nsm-1 and the connection go, the pods stay as they were", async () => {
    const before = await uids();
    const target = (await podsOf()).find((p) => p.metadata.name === attachedName)!;
    await e2e.stack.removeConfig("kubernetes-e2e:attachPod");
    const result = await e2e.stack.up();
    expect(result.summary.result).toBe("succeeded");
    expect(result.outputs.attached?.value).toBeUndefined();
    expect(await uids()).toEqual(before);
    expect(await links(netnsOfPod(target))).not.toContain("nsm-1");
    expect(await api.nsm.listConnections()).toEqual([]);
  }, STEP);

  it("destroys them: no Namespace, no pods, no pod namespaces left", async () => {
    const result = await e2e.stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    expect(await kube.get(resourcePath("v1", "namespaces", undefined, NS))).toBeUndefined();
    expect((await api.nsm.listNetworkServices()).map((x) => x.name)).not.toContain("red");
    expect(await podsOf()).toHaveLength(0);
    await eventually(() => namespaces.every((n) => !netns.exists(n)), { what: "the pods' netns to be gone", timeoutMs: 60_000, intervalMs: 500 });
  }, STEP);
});
