// @pulumi/kubernetes against the lab's own API server (Automation API): a Namespace and a
// Deployment come up through the real provider plugin (tools/pulumi-kubernetes), their pods run on
// the lab's k8s nodes with a netns each, and destroy leaves neither objects nor namespaces.
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
import { KubernetesClient, resourcePath } from "../../wire/kubernetes.ts";
import type { Pod } from "../../wire/kubernetes.ts";

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

beforeAll(async () => {
  await ensureBinaries((line) => console.log(line));
  if (!fs.existsSync(plugin)) await run("bash", [join(repoRoot, "tools", "pulumi-kubernetes", "build.sh")], { timeout: BUILD_TIMEOUT, maxBuffer: 16 << 20 });
}, BUILD_TIMEOUT);

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1", "k8s-2"] });
  const cfg = JSON.parse(fs.readFileSync(lab.endpoints.kubernetes!.kubeconfig, "utf8")) as {
    clusters: Array<{ cluster: { server: string; "certificate-authority-data": string } }>;
    users: Array<{ user: { token: string } }>;
  };
  kube = new KubernetesClient({
    server: cfg.clusters[0]!.cluster.server,
    token: cfg.users[0]!.user.token,
    ca: Buffer.from(cfg.clusters[0]!.cluster["certificate-authority-data"], "base64").toString("utf8"),
  });
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

  it("destroys them: no Namespace, no pods, no pod namespaces left", async () => {
    const result = await e2e.stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    expect(await kube.get(resourcePath("v1", "namespaces", undefined, NS))).toBeUndefined();
    expect(await podsOf()).toHaveLength(0);
    await eventually(() => namespaces.every((n) => !netns.exists(n)), { what: "the pods' netns to be gone", timeoutMs: 60_000, intervalMs: 500 });
  }, STEP);
});
