// The lab's Kubernetes as the tests and the bench use it, through its API server as kubectl would: a client
// from the lab's kubeconfig, pods made and deleted outside Pulumi, and what the stack left there.
import type { TestLab } from "./lab.ts";
import { eventually } from "./eventually.ts";
import { NETNS_ANNOTATION, resourcePath } from "../wire/kubernetes.ts";
import type { KubernetesClient } from "../wire/kubernetes.ts";
import type { KubeObject, Pod } from "../wire/kubernetes.ts";

/** The container of a pod that only needs to exist (the lab runs no containers; on a real cluster it sleeps). */
export const SLEEPER = { image: "busybox:1.36", command: ["sleep", "infinity"] };

/** Namespaces the lab's control plane and its DaemonSets own. */
const SYSTEM_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease", "nsm-system"]);

/** The lab's API server client (the fixture's `lab.kube`); fails saying how to start a lab that has one. */
export function labKube(lab: Pick<TestLab, "name" | "kube">): KubernetesClient {
  if (!lab.kube) throw new Error(`lab ${lab.name} runs no Kubernetes, so it has no pods: start it with startLab({ kubernetes: true })`);
  return lab.kube;
}

export const podPath = (namespace: string, name?: string) => resourcePath("v1", "pods", namespace, name);

export async function getPod(kube: KubernetesClient, name: string, namespace = "default"): Promise<Pod | undefined> {
  return kube.get<Pod>(podPath(namespace, name));
}

/** Deletes a pod as `kubectl delete pod` does (graceful), and waits until the API server has let it go. */
export async function deletePod(kube: KubernetesClient, name: string, namespace = "default"): Promise<void> {
  await kube.delete(podPath(namespace, name));
  await eventually(async () => (await getPod(kube, name, namespace)) === undefined, { what: `pod ${namespace}/${name} to be gone`, timeoutMs: 60_000, intervalMs: 250 });
}

/** A pod is Ready and (on the lab) carries its netns annotation. */
export const isReady = (p: Pod | undefined): p is Pod =>
  p !== undefined && !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

export const netnsAnnotation = (p: Pod): string | undefined => p.metadata.annotations?.[NETNS_ANNOTATION];

/** "<namespace>/<name>" of every pod outside the system namespaces, and those namespaces: what a stack may leave. */
export async function kubeInventory(kube: KubernetesClient): Promise<{ pods: string[]; namespaces: string[] }> {
  const pods = (await kube.list<Pod>(resourcePath("v1", "pods"))).items.filter((p) => !SYSTEM_NAMESPACES.has(p.metadata.namespace ?? ""));
  const namespaces = (await kube.list<KubeObject>(resourcePath("v1", "namespaces"))).items.map((n) => n.metadata.name).filter((n) => !SYSTEM_NAMESPACES.has(n));
  return { pods: pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort(), namespaces: namespaces.sort() };
}

export interface PodOptions {
  namespace?: string;
  node?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * Makes a pod as `kubectl run` would (busybox sleeping, optionally on a node) and waits until it
 * is Ready, which on the lab means its netns exists and is annotated.
 */
export async function createPod(kube: KubernetesClient, name: string, opts: PodOptions = {}): Promise<Pod> {
  const namespace = opts.namespace ?? "default";
  await kube.create(podPath(namespace), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: {
      ...(opts.node ? { nodeName: opts.node } : {}),
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "main", ...SLEEPER }],
    },
  });
  let last: Pod | undefined;
  try {
    await eventually(async () => isReady((last = await getPod(kube, name, namespace))) && netnsAnnotation(last) !== undefined, {
      what: `pod ${namespace}/${name} to be Ready`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  } catch (err) {
    throw new Error(`pod ${namespace}/${name} did not get Ready with its ${NETNS_ANNOTATION} annotation in 60 s; its status: ${JSON.stringify(last?.status ?? "none (no such pod)")}`, { cause: err });
  }
  return last!;
}

/** What the lab made for a Ready pod: its netns (the annotation), node, uid and eth0 address. */
export interface LabPod {
  name: string;
  namespace: string;
  node: string;
  netns: string;
  uid: string;
  ip: string;
}

export function labPod(p: Pod): LabPod {
  const netns = netnsAnnotation(p);
  const ip = p.status?.podIP;
  if (!netns || !ip || !p.spec.nodeName) throw new Error(`pod ${p.metadata.namespace}/${p.metadata.name} has no netns annotation, podIP or node yet`);
  return { name: p.metadata.name, namespace: p.metadata.namespace ?? "default", node: p.spec.nodeName, netns, uid: p.metadata.uid ?? "", ip };
}
