// The Kubernetes pod a PodAttachment names, as the API server shows it: its node, its uid, and its
// network namespace when the node's CNI recorded one (the lab's kubelet writes NETNS_ANNOTATION
// before the pod turns Ready; a real cluster's forwarder finds the netns from the uid instead).
// A pod that is not yet scheduled, Running and Ready is waited for, bounded, with progress lines.
import { NETNS_ANNOTATION, resourcePath } from "../../wire/kubernetes.ts";
import type { KubernetesClient, Pod } from "../../wire/kubernetes.ts";
import { progress } from "./context.ts";

export interface PodRef {
  name: string;
  namespace: string;
}

/** What an attachment needs of a running pod. */
export interface ResolvedPod extends PodRef {
  uid: string;
  node: string;
  /** The netns name under /var/run/netns, when the pod's annotation gives one. */
  netns: string | undefined;
}

/** How long create and update wait for a pod to run; tests shorten it. */
export const podWait = { timeoutMs: 60_000, intervalMs: 250, progressEveryMs: 5_000 };

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A pod name: a DNS-1123 subdomain (at most 253 characters), as the API server requires. */
export function checkPodName(value: string): string | undefined {
  if (value.length > 253) return `name "${value.slice(0, 20)}..." is ${value.length} characters; a pod name has at most 253`;
  if (!DNS1123_SUBDOMAIN.test(value)) return `name "${value}" is not a valid pod name (a DNS-1123 subdomain): use lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`;
  return undefined;
}

export const podKey = (ref: PodRef): string => `${ref.namespace}/${ref.name}`;

export async function readPod(kube: KubernetesClient, ref: PodRef): Promise<Pod | undefined> {
  return kube.get<Pod>(resourcePath("v1", "pods", ref.namespace, ref.name));
}

/** Why the pod cannot be attached yet, or undefined when it can. */
function notReady(pod: Pod): string | undefined {
  if (!pod.spec.nodeName) return "is not scheduled to a node yet";
  const phase = pod.status?.phase ?? "Pending";
  if (phase !== "Running") return `is ${phase}`;
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status !== "True") return "is Running but not Ready yet";
  return undefined;
}

export function resolvedOf(pod: Pod): ResolvedPod {
  return {
    name: pod.metadata.name,
    namespace: pod.metadata.namespace ?? "default",
    uid: pod.metadata.uid ?? "",
    node: pod.spec.nodeName ?? "",
    netns: pod.metadata.annotations?.[NETNS_ANNOTATION] || undefined,
  };
}

/**
 * The pod, once it is scheduled, Running and Ready (its netns annotation, on the lab, is written
 * before Ready). Fails at once for a pod that is missing, being deleted, or finished; after
 * podWait.timeoutMs for one that does not get there.
 */
export async function resolvePod(kube: KubernetesClient, ref: PodRef): Promise<ResolvedPod> {
  const key = podKey(ref);
  const started = Date.now();
  let lastProgress = started;
  for (;;) {
    const pod = await readPod(kube, ref);
    if (!pod) throw new Error(`pod: no pod "${key}" in the cluster at ${kube.server}`);
    if (pod.metadata.deletionTimestamp) throw new Error(`pod: pod "${key}" is being deleted (since ${pod.metadata.deletionTimestamp}); attach a running pod`);
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") throw new Error(`pod: pod "${key}" has ${phase === "Failed" ? "failed" : "completed"} (phase ${phase}) and will not run again`);
    const why = notReady(pod);
    if (why === undefined) return resolvedOf(pod);
    const waited = Date.now() - started;
    if (waited >= podWait.timeoutMs) throw new Error(`pod: pod "${key}" ${why} after ${(waited / 1000).toFixed(1)} s; attach it once it runs (kubectl describe pod -n ${ref.namespace} ${ref.name})`);
    if (Date.now() - lastProgress >= podWait.progressEveryMs) {
      lastProgress = Date.now();
      progress(`waiting for pod ${key}: it ${why} (${Math.round(waited / 1000)} s of ${Math.round(podWait.timeoutMs / 1000)} s)`);
    }
    await new Promise((r) => setTimeout(r, podWait.intervalMs));
  }
}
