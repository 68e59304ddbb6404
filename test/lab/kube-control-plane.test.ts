// A lab with kubernetes: true runs a real control plane and is the kubelet of its k8s nodes:
// Nodes Ready with Leases, Deployment and DaemonSet pods Running with a real netns each,
// `kubectl wait` works, deletion removes the namespace, a restart gives pods their namespace back.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { ensureBinaries } from "../../lab/kube/binaries.ts";
import type { KubeBinary, ResolvedBinary } from "../../lab/kube/binaries.ts";
import { runtimeNameOf } from "../../lab/kube/podStore.ts";
import * as netns from "../../lib/kernel/netns.ts";
import { KubernetesClient, NETNS_ANNOTATION, resourcePath } from "../../wire/kubernetes.ts";
import type { Lease, Node, Pod } from "../../wire/kubernetes.ts";

const run = promisify(execFile);
const CLI = new URL("../../cli/tfmesh.ts", import.meta.url).pathname;
// The first build of the binaries (when setup.sh has not made them) takes most of this.
const BUILD_TIMEOUT = 45 * 60_000;
const WAIT = { timeoutMs: 90_000, intervalMs: 500 };
const STEP = 180_000;

let lab: TestLab;
let kube: KubernetesClient;
let bins: Record<KubeBinary, ResolvedBinary>;
const NS = "kube-test";

function clientFor(l: TestLab): KubernetesClient {
  const cfg = JSON.parse(fs.readFileSync(l.endpoints.kubernetes!.kubeconfig, "utf8")) as {
    clusters: Array<{ cluster: { server: string; "certificate-authority-data": string } }>;
    users: Array<{ user: { token: string } }>;
  };
  return new KubernetesClient({
    server: cfg.clusters[0]!.cluster.server,
    token: cfg.users[0]!.user.token,
    ca: Buffer.from(cfg.clusters[0]!.cluster["certificate-authority-data"], "base64").toString("utf8"),
  });
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(bins.kubectl.path, ["--kubeconfig", lab.endpoints.kubernetes!.kubeconfig, ...args], { timeout: 120_000 });
  return stdout;
}

const podsOf = async (selector: string) => (await kube.list<Pod>(resourcePath("v1", "pods", NS), { labelSelector: selector })).items;
const netnsOfPod = (p: Pod) => `${lab.prefix}-pod-${runtimeNameOf(p.metadata.namespace!, p.metadata.name)}`;

beforeAll(async () => {
  bins = await ensureBinaries((line) => console.log(line));
}, BUILD_TIMEOUT);

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1", "k8s-2"] });
  kube = clientFor(lab);
}, 180_000);

afterAll(async () => {
  await lab?.stop();
}, 120_000);

describe("the lab's Kubernetes", () => {
  it("writes the API server and a kubeconfig into endpoints.json", () => {
    const e = JSON.parse(fs.readFileSync(lab.endpointsFile, "utf8")) as { kubernetes?: { server: string; kubeconfig: string } };
    expect(e.kubernetes?.server).toBe(`https://127.0.0.1:${lab.config.ports.kubeApiserver}`);
    expect(fs.existsSync(e.kubernetes!.kubeconfig)).toBe(true);
  }, STEP);

  it("registers each k8s node Ready, with its underlay address, pod CIDR and a renewed Lease", async () => {
    const nodes = await eventually(
      async () => {
        const list = await kube.list<Node>(resourcePath("v1", "nodes"));
        const ready = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        return ready.length === 2 && list.items;
      },
      { what: "two Ready nodes", ...WAIT },
    );
    const byName = new Map(nodes.map((n) => [n.metadata.name, n]));
    expect([...byName.keys()].sort()).toEqual(["k8s-1", "k8s-2"]);
    expect(byName.get("k8s-1")!.spec.podCIDR).toBe("10.244.1.0/24");
    expect(byName.get("k8s-2")!.spec.podCIDR).toBe("10.244.2.0/24");
    const ip = (n: Node) => n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
    // computeNodes come first on the underlay: compute-1 .10, k8s-1 .11, k8s-2 .12
    expect(ip(byName.get("k8s-1")!)).toBe("172.31.0.11");
    expect(ip(byName.get("k8s-2")!)).toBe("172.31.0.12");
    const first = await kube.get<Lease>(resourcePath("coordination.k8s.io/v1", "leases", "kube-node-lease", "k8s-1"));
    expect(first?.spec.holderIdentity).toBe("k8s-1");
    await eventually(
      async () => (await kube.get<Lease>(resourcePath("coordination.k8s.io/v1", "leases", "kube-node-lease", "k8s-1")))?.spec.renewTime !== first?.spec.renewTime,
      { what: "the Lease of k8s-1 to be renewed", timeoutMs: 30_000, intervalMs: 1000 },
    );
  }, STEP);

  it("runs a Deployment's pods: Running and Ready, each in a netns with eth0 at its podIP, and kubectl waits for them", async () => {
    await kube.create(resourcePath("v1", "namespaces"), { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await kube.create(resourcePath("apps/v1", "deployments", NS), {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: NS },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.invalid/web:1" }] } },
      },
    });
    const pods = await eventually(
      async () => {
        const items = await podsOf("app=web");
        return items.length === 3 && items.every((p) => p.status?.phase === "Running" && p.status.podIP) && items;
      },
      { what: "3 web pods Running with a podIP", ...WAIT },
    );
    await kubectl("wait", "--for=condition=Ready", "pod", "-l", "app=web", "-n", NS, "--timeout=60s");
    for (const p of pods) {
      // The kubelet (as a CNI) names the pod's netns on the pod before it turns Ready.
      const ns = p.metadata.annotations?.[NETNS_ANNOTATION];
      expect(ns).toBe(netnsOfPod(p));
      expect(netns.exists(ns!), ns).toBe(true);
      const addr = await lab.inLab(ns!, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
      expect(addr.stdout).toContain(`${p.status!.podIP}/16`);
      const node = p.spec.nodeName!;
      expect(p.status!.podIP!.startsWith(node === "k8s-1" ? "10.244.1." : "10.244.2.")).toBe(true);
      expect(p.status!.hostIP).toBe(node === "k8s-1" ? "172.31.0.11" : "172.31.0.12");
      expect(p.status!.containerStatuses?.[0]).toMatchObject({ name: "web", ready: true, started: true });
    }
    await eventually(
      async () => {
        const d = await kube.get<{ metadata: { name: string }; status?: { availableReplicas?: number } }>(resourcePath("apps/v1", "deployments", NS, "web"));
        return d?.status?.availableReplicas === 3;
      },
      { what: "the Deployment to have 3 available replicas", ...WAIT },
    );
    const wide = await kubectl("get", "nodes,pods", "-A", "-o", "wide");
    expect(wide).toContain("k8s-1");
    expect(wide).toContain(pods[0]!.status!.podIP!);
  }, STEP);

  it("passes `lab kubectl` arguments to kubectl with the lab's kubeconfig, and `lab status` shows the control plane healthy", async () => {
    const cli = (...args: string[]) => run(process.execPath, [CLI, "lab", "--state-dir", lab.stateDir, ...args], { timeout: 120_000 });
    const { stdout } = await cli("kubectl", "get", "nodes,pods", "-A", "-o", "wide");
    expect(stdout).toMatch(/node\/k8s-1\s+Ready/);
    expect(stdout).toContain("172.31.0.12");
    for (const p of await podsOf("app=web")) expect(stdout).toContain(p.metadata.name);
    const status = await cli("status");
    for (const c of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) expect(status.stdout).toMatch(new RegExp(`${c}\\s+ok`));
  }, STEP);

  it("runs a DaemonSet's pod on every k8s node", async () => {
    await kube.create(resourcePath("apps/v1", "daemonsets", NS), {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agent", namespace: NS },
      spec: {
        selector: { matchLabels: { app: "agent" } },
        template: { metadata: { labels: { app: "agent" } }, spec: { containers: [{ name: "agent", image: "registry.invalid/agent:1" }] } },
      },
    });
    const pods = await eventually(
      async () => {
        const items = await podsOf("app=agent");
        return items.length === 2 && items.every((p) => p.status?.phase === "Running") && items;
      },
      { what: "2 DaemonSet pods Running", ...WAIT },
    );
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["k8s-1", "k8s-2"]);
    for (const p of pods) expect(netns.exists(netnsOfPod(p))).toBe(true);
  }, STEP);

  it("removes a deleted pod's namespace and finishes the delete; the ReplicaSet's replacement gets its own", async () => {
    const [victim] = await podsOf("app=web");
    const ns = netnsOfPod(victim!);
    await kube.delete(resourcePath("v1", "pods", NS, victim!.metadata.name));
    await eventually(async () => (await kube.get(resourcePath("v1", "pods", NS, victim!.metadata.name))) === undefined, { what: "the deleted pod to be gone from the API", ...WAIT });
    expect(netns.exists(ns)).toBe(false);
    await eventually(
      async () => {
        const items = await podsOf("app=web");
        return items.length === 3 && items.every((p) => p.status?.phase === "Running" && netns.exists(netnsOfPod(p)));
      },
      { what: "3 web pods again, each with its netns", ...WAIT },
    );
  }, STEP);

  it("removes the namespace of a pod force-deleted from the API (no graceful phase for the kubelet to see)", async () => {
    await kube.create(resourcePath("v1", "pods", NS), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "solo", namespace: NS, labels: { app: "solo" } },
      spec: { containers: [{ name: "solo", image: "registry.invalid/solo:1" }] },
    });
    const [pod] = await eventually(
      async () => {
        const items = await podsOf("app=solo");
        return items.length === 1 && items[0]!.status?.phase === "Running" && items;
      },
      { what: "pod solo Running", ...WAIT },
    );
    const ns = netnsOfPod(pod!);
    expect(netns.exists(ns)).toBe(true);
    expect(await kube.delete(resourcePath("v1", "pods", NS, "solo"), { gracePeriodSeconds: 0 })).toBe(true);
    await eventually(() => !netns.exists(ns), { what: `${ns} to be removed`, ...WAIT });
  }, STEP);

  it("gives pods their namespace back after a restart, and keeps their addresses", async () => {
    const before = await podsOf("app=web");
    const lost = before[0]!;
    await lab.restart(async () => {
      await netns.del(netnsOfPod(lost));
    });
    kube = clientFor(lab);
    await eventually(() => netns.exists(netnsOfPod(lost)), { what: `the netns of ${lost.metadata.name} to come back`, ...WAIT });
    const addr = await lab.inLab(netnsOfPod(lost), ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
    expect(addr.stdout).toContain(`${lost.status!.podIP}/16`);
    const after = await podsOf("app=web");
    expect(after.map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
  }, STEP);

  it("removes every pod namespace when the Deployment and DaemonSet go", async () => {
    const names = [...(await podsOf("app=web")), ...(await podsOf("app=agent"))].map(netnsOfPod);
    expect(await kube.delete(resourcePath("v1", "namespaces", undefined, NS))).toBe(true);
    await eventually(() => names.every((n) => !netns.exists(n)), { what: "every pod netns of the test namespace to be gone", ...WAIT });
    await eventually(async () => (await kube.get(resourcePath("v1", "namespaces", undefined, NS))) === undefined, { what: `namespace ${NS} to be deleted`, ...WAIT });
  }, STEP);
});

