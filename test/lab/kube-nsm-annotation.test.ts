// NSM's pod annotation in a lab with Kubernetes (root): the lab's admission webhook injects
// nsc-init and the nsc sidecar into an annotated pod, the lab's kubelet requests the interfaces
// before the pod turns Ready, and a deleted pod loses them. A bad annotation is refused by the
// API server naming the entry; a request that fails later is a Warning event and is retried.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../harness/eventually.ts";
import { SLEEPER, getPod, isReady, labPod, podPath } from "../../harness/kube.ts";
import { startLab } from "../../harness/lab.ts";
import type { TestLab } from "../../harness/lab.ts";
import * as ip from "../../lib/kernel/ip.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import type { KubeList, KubeObject, KubernetesClient, Pod } from "../../wire/kubernetes.ts";
import type { NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { NsmGrpcClient } from "../../wire/nsm/grpcClient.ts";

const WAIT = { timeoutMs: 60_000, intervalMs: 250 };

let lab: TestLab;
let kube: KubernetesClient;
let nsm: NsmGrpcClient;

const podSpec = (name: string, annotation: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default", annotations: { "networkservicemesh.io": annotation } },
  spec: { nodeName: "k8s-1", terminationGracePeriodSeconds: 1, containers: [{ name: "main", ...SLEEPER }] },
});

const readyPod = async (name: string): Promise<Pod> => {
  let p: Pod | undefined;
  await eventually(async () => isReady((p = await getPod(kube, name))), { what: `pod ${name} Ready`, ...WAIT });
  return p!;
};

const nsmLinks = async (netns: string) =>
  (await ip.json<{ ifname: string; addr_info?: Array<{ family: string; local: string }> }>(["addr", "show"], netns))
    .filter((l) => l.ifname !== "lo" && l.ifname !== "eth0")
    .map((l) => ({ name: l.ifname, ip: l.addr_info?.find((a) => a.family === "inet")?.local }))
    .sort((a, b) => a.name.localeCompare(b.name));

const connectionsOf = async (uid: string) => (await nsm.listConnections()).filter((c) => c.labels?.podUid === uid);

beforeAll(async () => {
  lab = await startLab({ kubernetes: true, computeNodes: ["compute-1"], k8sNodes: ["k8s-1"] });
  kube = lab.kube!;
  nsm = new NsmGrpcClient(lab.endpoints.nsmGrpc, { spiffe: lab.endpoints.spiffe });
  await nsm.registerService({ name: "red", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.62.0.0/24" } });
  await nsm.registerService({ name: "blue", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.63.0.0/24" } });
}, 240_000);

afterAll(async () => {
  nsm?.dispose();
  await lab?.stop();
}, 120_000);

describe("a pod with NSM's annotation", () => {
  let pod: Pod;

  it("gets nsc-init and the nsc sidecar, and turns Ready with its interfaces up", async () => {
    await kube.create(podPath("default"), podSpec("web", "kernel://red/nsm-1,kernel://blue"));
    pod = await readyPod("web");
    expect(pod.spec.initContainers?.map((c) => c.name)).toEqual(["nsc-init"]);
    expect(pod.spec.containers.map((c) => c.name)).toEqual(["main", "nsc"]);
    expect(pod.status?.initContainerStatuses?.[0]?.state.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
    const links = await nsmLinks(labPod(pod).netns);
    expect(links.map((l) => l.name)).toEqual(["nsm-1", "nsm-2"]);
    expect(links[0]!.ip).toMatch(/^10\.62\.0\./);
    expect(links[1]!.ip).toMatch(/^10\.63\.0\./);
    const shown = (await lab.topology()).nodes.flatMap((n) => n.pods).find((x) => x.netns === labPod(pod).netns);
    expect(shown?.interfaces.filter((i) => i.name.startsWith("nsm-")).map((i) => [i.name, i.connection?.annotationEntry])).toEqual([
      ["nsm-1", 1],
      ["nsm-2", 2],
    ]);
    const conns = await connectionsOf(pod.metadata.uid!);
    expect(conns.map((c) => [c.id, c.network_service, c.labels?.nsmAnnotationEntry]).sort()).toEqual([
      [`nsc-${pod.metadata.uid}-1`, "red", "1"],
      [`nsc-${pod.metadata.uid}-2`, "blue", "2"],
    ]);
  });

  it("keeps its interface names from another connection, naming the annotation as their owner", async () => {
    const p = labPod(pod);
    const req: NetworkServiceRequest = {
      connection: { id: "intruder", network_service: "red", labels: { nodeName: p.node, podName: p.name } },
      mechanism_preferences: [{ cls: "LOCAL", type: "KERNEL", parameters: { netnsName: p.netns, name: "nsm-1" } }],
    };
    await expect(nsm.request(req)).rejects.toThrow(/interface nsm-1 already exists .* belongs to connection nsc-.*-1, entry 1 of the pod's networkservicemesh.io annotation/);
    expect((await nsm.listConnections()).map((c) => c.id)).not.toContain("intruder");
  });

  it("loses its interfaces and connections when deleted", async () => {
    const netns = labPod(pod).netns;
    await lab.deletePod("web");
    expect(await connectionsOf(pod.metadata.uid!)).toEqual([]);
    expect(lab.namespaces()).not.toContain(netns);
  });
});

describe("a bad annotation", () => {
  it("is refused for a pod, naming the entry, and nothing is made", async () => {
    await expect(kube.create(podPath("default"), podSpec("bad", "kernel://red/nsm-1,kernel://Blue"))).rejects.toThrow(
      /networkservicemesh.io entry 2 \("kernel:\/\/Blue"\): network service: name "Blue" is not a DNS-1123 label/,
    );
    expect(await getPod(kube, "bad")).toBeUndefined();
  });

  it("is refused for a Deployment's pod template", async () => {
    const dep = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "bad-web", namespace: "default" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "bad-web" } },
        template: { metadata: { labels: { app: "bad-web" }, annotations: { "networkservicemesh.io": "kernel://red/nsm-1-is-far-too-long" } }, spec: { containers: [{ name: "main", ...SLEEPER }] } },
      },
    };
    await expect(kube.create(resourcePath("apps/v1", "deployments", "default"), dep)).rejects.toThrow(/Deployment default\/bad-web \(pod template\): networkservicemesh.io entry 1 .*at most 15/);
  });
});

describe("a request that fails when the pod starts", () => {
  it("keeps the pod from Ready with a Warning event, and is retried until it succeeds", async () => {
    await kube.create(podPath("default"), podSpec("early", "kernel://green/nsm-1"));
    let p: Pod | undefined;
    await eventually(async () => (p = await getPod(kube, "early"))?.status?.initContainerStatuses?.[0]?.state.terminated?.exitCode === 1, { what: "nsc-init to fail", ...WAIT });
    expect(isReady(p)).toBe(false);
    expect(p!.status?.phase).toBe("Pending");
    expect(p!.status?.initContainerStatuses?.[0]?.state.terminated?.message).toMatch(/entry 1 \(kernel:\/\/green\/nsm-1\): .*green/);
    const events = await kube.list<KubeObject & { reason: string; message: string; type: string; involvedObject: { name: string } }>(resourcePath("v1", "events", "default"));
    const mine = events.items.filter((e) => e.involvedObject.name === "early");
    expect(mine.map((e) => [e.type, e.reason])).toContainEqual(["Warning", "NsmRequestFailed"]);

    await nsm.registerService({ name: "green", payload: "ETHERNET", forwarder: "kernel", kernel: { cidr: "10.64.0.0/24" } });
    const ready = await readyPod("early");
    expect((await nsmLinks(labPod(ready).netns)).map((l) => l.name)).toEqual(["nsm-1"]);
    await lab.deletePod("early");
    expect(await connectionsOf(ready.metadata.uid!)).toEqual([]);
  });
});

describe("a Deployment with the annotation", () => {
  it("attaches every replica, and scaling down detaches the removed ones", async () => {
    const deployments = resourcePath("apps/v1", "deployments", "default");
    await kube.create(deployments, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "fleet", namespace: "default" },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "fleet" } },
        template: { metadata: { labels: { app: "fleet" }, annotations: { "networkservicemesh.io": "kernel://red/nsm-1" } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", ...SLEEPER }] } },
      },
    });
    const fleet = async () => (await kube.list<Pod>(`${podPath("default")}?labelSelector=app%3Dfleet`)).items;
    const fleetConnections = async () => (await nsm.listConnections()).filter((c) => c.labels?.podName?.startsWith("fleet-"));
    await eventually(async () => (await fleet()).filter(isReady).length === 3 && (await fleetConnections()).length === 3, { what: "3 attached replicas", ...WAIT });
    await kube.patch(`${deployments}/fleet`, { spec: { replicas: 1 } });
    await eventually(async () => (await fleet()).length === 1 && (await fleetConnections()).length === 1, { what: "1 replica and 1 connection", ...WAIT });
    const [last] = await fleet();
    expect((await fleetConnections()).map((c) => c.labels?.podUid)).toEqual([last!.metadata.uid]);
    await kube.delete(`${deployments}/fleet`);
    await eventually(async () => (await fleet()).length === 0 && (await fleetConnections()).length === 0, { what: "nothing left of the fleet", ...WAIT });
    const list = await kube.list<KubeObject>(resourcePath("v1", "pods"));
    expect((list as KubeList<KubeObject>).items.filter((p) => p.metadata.name.startsWith("fleet-"))).toEqual([]);
  });
});

describe("a lab restart", () => {
  it("keeps an annotated pod's interfaces, and the webhook serves new pods as before", async () => {
    await kube.create(podPath("default"), podSpec("keeper", "kernel://red/nsm-1"));
    const before = await readyPod("keeper");
    const links = await nsmLinks(labPod(before).netns);
    await lab.restart();
    const after = await readyPod("keeper");
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(await nsmLinks(labPod(after).netns)).toEqual(links);
    expect((await connectionsOf(after.metadata.uid!)).map((c) => c.id)).toEqual([`nsc-${after.metadata.uid}-1`]);
    await kube.create(podPath("default"), podSpec("newcomer", "kernel://blue/nsm-1"));
    const newcomer = await readyPod("newcomer");
    expect((await nsmLinks(labPod(newcomer).netns)).map((l) => l.name)).toEqual(["nsm-1"]);
    await lab.deletePod("keeper");
    await lab.deletePod("newcomer");
    expect(await nsm.listConnections()).toEqual([]);
  });
});
