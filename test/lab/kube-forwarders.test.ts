// A lab with Kubernetes (root): its forwarders are the pods of the tungsten and kernel DaemonSets
// in nsm-system (nsm/forwarderd/manifest.ts, applied to the lab's API server), which the lab's
// kubelet runs as `tfmesh forwarder` processes in their node's netns with the env it resolved.
// One Ready pod per node per DaemonSet; the registrations come from the pods' env; an NSM Request
// builds an interface in a pod; a deleted pod is replaced and its process re-registers while the
// connection stays (same ifindex); a stopped lab leaves no forwarder process.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { processes } from "../../harness/processTree.ts";
import { startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import { ensureBinaries } from "../../lab/kube/binaries.ts";
import type { KubeBinary, ResolvedBinary } from "../../lab/kube/binaries.ts";
import * as ip from "../../lib/kernel/ip.ts";
import type { NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";
import { labPod } from "../../harness/kube.ts";
import type { LabPod } from "../../harness/kube.ts";

const run = promisify(execFile);
const BUILD_TIMEOUT = 45 * 60_000;
const STEP = 180_000;
const WAIT = { timeoutMs: 90_000, intervalMs: 500 };
const TYPES = ["tungsten", "kernel"] as const;
const NODES = ["k8s-1", "k8s-2"];

let lab: TestLab;
let bins: Record<KubeBinary, ResolvedBinary>;
let nsm: NsmGrpcClient;
let client: LabPod;

interface KPod {
  metadata: { name: string; uid: string; labels: Record<string, string> };
  spec: { nodeName: string; containers: Array<{ env: Array<{ name: string; value?: string }> }> };
  status: { podIP?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ ready: boolean }> };
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(bins.kubectl.path, ["--kubeconfig", lab.endpoints.kubernetes!.kubeconfig, ...args], { timeout: 120_000 });
  return stdout;
}

const forwarderPods = async () => (JSON.parse(await kubectl("get", "pods", "-n", "nsm-system", "-o", "json")) as { items: KPod[] }).items;
const ready = (p: KPod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/** The lab's forwarder processes (pid, env), found through /proc. */
const forwarderProcesses = (): Array<{ pid: number; env: Record<string, string> }> =>
  processes()
    .filter(({ env, cmdline }) => env.TFMESH_NODE_NETNS?.startsWith(`${lab.prefix}-`) && cmdline.includes(" forwarder") && !cmdline.includes("arping"))
    .map(({ pid, env }) => ({ pid, env }));

const netnsInode = (file: string) => fs.statSync(file).ino;
const podLinks = async (ns: string) => (await ip.json<{ ifname: string; ifindex: number }>(["link", "show"], ns)).filter((l) => l.ifname !== "lo" && l.ifname !== "eth0");
const request = (): NetworkServiceRequest => ({
  connection: { id: "client-local", network_service: "local", labels: { nodeName: client.node, podName: client.name } },
  mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: client.netns } }],
});

beforeAll(async () => {
  bins = await ensureBinaries((line) => console.log(line));
}, BUILD_TIMEOUT);

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: NODES });
  nsm = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: lab.endpoints.spiffe });
  await nsm.registerService({ name: "local", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.61.0.0/24" } });
  client = labPod(await lab.createPod("client", { node: "k8s-1" }));
}, 240_000);

afterAll(async () => {
  nsm?.dispose();
  await lab?.stop();
}, 120_000);

describe("the forwarders of a lab with Kubernetes", () => {
  it("are two DaemonSets in nsm-system with one Ready pod per k8s node", async () => {
    // Registered is what the lab's start waits for; Ready follows with the first passing probe.
    const ds = await eventually(
      async () => {
        const out = await kubectl("get", "ds,pods", "-n", "nsm-system");
        return TYPES.every((t) => new RegExp(`daemonset\\.apps/${t}-forwarder\\s+2\\s+2\\s+2\\s+2\\s+2\\s`).test(out)) && out;
      },
      { what: "both DaemonSets with 2 desired, current, ready, up-to-date and available pods", ...WAIT },
    );
    expect(ds.match(/^pod\/\S+\s+1\/1\s+Running/gm)).toHaveLength(4);
    const pods = await forwarderPods();
    for (const type of TYPES) {
      const mine = pods.filter((p) => p.metadata.labels["networkservicemesh.io/forwarder"] === type);
      expect(mine.map((p) => p.spec.nodeName).sort()).toEqual(NODES);
      expect(mine.every(ready), `${type} pods Ready`).toBe(true);
    }
  }, STEP);

  it("register under the NSM name and URL of their pod's env, from processes in their node's netns", async () => {
    const pods = await forwarderPods();
    const fromEnv = pods.map((p) => {
      const env = Object.fromEntries(p.spec.containers[0]!.env.map((v) => [v.name, v.value ?? ""]));
      // As the kubelet expands them: NODE_NAME is the pod's node.
      const expand = (s: string) => s.replace("$(NODE_NAME)", p.spec.nodeName);
      const name = expand(env.NSM_NAME!);
      return [name, expand(env.NSM_LISTEN_ON!).replace("$(NSM_NAME)", name)];
    });
    const registered = (await nsm.listEndpoints("forwarder")).map((e) => [e.name, e.url]);
    expect(registered.sort()).toEqual(fromEnv.sort());
    expect(registered.map(([n]) => n).sort()).toEqual(["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"]);
    const procs = forwarderProcesses();
    expect(procs.map((p) => p.env.NSM_NAME).sort()).toEqual(["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"]);
    for (const p of procs) {
      expect(p.env.NODE_NAME).toBe(p.env.NSM_NAME!.split("@")[1]);
      expect(netnsInode(`/proc/${p.pid}/ns/net`), `${p.env.NSM_NAME} in its node's netns`).toBe(netnsInode(`/var/run/netns/${lab.prefix}-${p.env.NODE_NAME}`));
    }
  }, STEP);

  it("build an interface in a pod through an NSM Request; a deleted forwarder pod comes back, re-registers, and the connection stays", async () => {
    const conn = await nsm.request(request());
    expect(conn.state).toBe("UP");
    expect(conn.path?.path_segments.map((s) => s.name)).toEqual(["tfmesh-client", "nsmgr@k8s-1", "kernel@k8s-1"]);
    const [link] = await podLinks(client.netns);
    expect(link).toBeDefined();

    const old = (await forwarderPods()).find((p) => p.metadata.labels["networkservicemesh.io/forwarder"] === "kernel" && p.spec.nodeName === "k8s-1")!;
    const oldPid = forwarderProcesses().find((p) => p.env.NSM_NAME === "kernel@k8s-1")!.pid;
    await kubectl("delete", "pod", "-n", "nsm-system", old.metadata.name, "--wait=true");
    const replacement = await eventually(
      async () => (await forwarderPods()).find((p) => p.metadata.labels["networkservicemesh.io/forwarder"] === "kernel" && p.spec.nodeName === "k8s-1" && p.metadata.uid !== old.metadata.uid && ready(p)),
      { what: "a new Ready kernel forwarder pod on k8s-1", ...WAIT },
    );
    expect(replacement.metadata.name).not.toBe(old.metadata.name);
    const newPid = await eventually(() => forwarderProcesses().find((p) => p.env.NSM_NAME === "kernel@k8s-1")?.pid, { what: "the new pod's process", ...WAIT });
    expect(newPid).not.toBe(oldPid);
    await eventually(async () => (await nsm.listEndpoints("forwarder")).some((e) => e.name === "kernel@k8s-1"), { what: "kernel@k8s-1 registered again", ...WAIT });

    const again = await nsm.request(request());
    expect(again.state).toBe("UP");
    expect(await podLinks(client.netns)).toEqual([link]);
    await nsm.close({ id: "client-local" });
    expect(await podLinks(client.netns)).toEqual([]);
  }, STEP);

  it("come back as the same pods when the daemon is restarted (the DaemonSets applied again do not roll them)", async () => {
    const before = (await forwarderPods()).map((p) => p.metadata.uid).sort();
    await lab.restart();
    expect((await nsm.listEndpoints("forwarder")).map((e) => e.name).sort()).toEqual(["kernel@k8s-1", "kernel@k8s-2", "tungsten@k8s-1", "tungsten@k8s-2"]);
    expect((await forwarderPods()).map((p) => p.metadata.uid).sort()).toEqual(before);
    expect(forwarderProcesses().length).toBe(4);
  }, STEP);

  it("leave no forwarder process once the lab stopped", async () => {
    expect(forwarderProcesses().length).toBe(4);
    await lab.stop();
    expect(forwarderProcesses()).toEqual([]);
  }, STEP);
});
