// What the e2e tests need of the lab's Kubernetes beyond harness/kube.ts: a pod's netns by its
// tfmesh.io/netns annotation (the lab's topology names Kubernetes pods by their runtime name).
import { getPod, netnsAnnotation } from "../../harness/kube.ts";
import { NETNS_ANNOTATION } from "../../wire/kubernetes.ts";
import type { KubernetesClient } from "../../wire/kubernetes.ts";

/** The netns the lab's kubelet made for a pod, for lab.inLab / lab.ping. */
export async function netnsOfPod(kube: KubernetesClient, name: string, namespace = "default"): Promise<string> {
  const pod = await getPod(kube, name, namespace);
  const ns = pod && netnsAnnotation(pod);
  if (!ns) throw new Error(`pod ${namespace}/${name} ${pod ? `has no ${NETNS_ANNOTATION} annotation` : "does not exist"}`);
  return ns;
}
