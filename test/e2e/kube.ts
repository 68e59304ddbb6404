// The lab's Kubernetes as the e2e tests use it, through its API server as kubectl would: a client
// from the lab's kubeconfig, pods made and deleted outside Pulumi, and what the stack left there.
import type { TestLab } from "../../harness/lab.ts";
import { eventually } from "../../harness/eventually.ts";
import { loadKubeconfig } from "../../wire/kubeconfig.ts";
import { KubernetesClient, NETNS_ANNOTATION, resourcePath } from "../../wire/kubernetes.ts";
import type { KubeObject, Pod } from "../../wire/kubernetes.ts";

/** Namespaces the lab's control plane and its DaemonSets own. */
const SYSTEM_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease", "nsm-system"]);

export function labKube(lab: TestLab): KubernetesClient {
  const k = lab.endpoints.kubernetes;
  if (!k) throw new Error(`lab ${lab.name} has no Kubernetes: start it with startLab({ kubernetes: true })`);
  return new KubernetesClient(loadKubeconfig(k.kubeconfig).options);
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

/**
 * Makes a pod as `kubectl run` would (busybox sleeping, optionally on a node) and waits until it
 * is Ready, which on the lab means its netns exists and is annotated.
 */
export async function createPod(kube: KubernetesClient, name: string, opts: { namespace?: string; node?: string } = {}): Promise<Pod> {
  const namespace = opts.namespace ?? "default";
  await kube.create(podPath(namespace), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      ...(opts.node ? { nodeName: opts.node } : {}),
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "infinity"] }],
    },
  });
  let ready: Pod | undefined;
  await eventually(async () => isReady((ready = await getPod(kube, name, namespace))), { what: `pod ${namespace}/${name} to be Ready`, timeoutMs: 60_000, intervalMs: 200 });
  return ready!;
}

/** The netns the lab's kubelet made for a pod (its tfmesh.io/netns annotation), for lab.inLab / lab.ping. */
export async function netnsOfPod(kube: KubernetesClient, name: string, namespace = "default"): Promise<string> {
  const pod = await getPod(kube, name, namespace);
  const ns = pod && netnsAnnotation(pod);
  if (!ns) throw new Error(`pod ${namespace}/${name} ${pod ? `has no ${NETNS_ANNOTATION} annotation` : "does not exist"}`);
  return ns;
}
