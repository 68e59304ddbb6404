// What the injected nsc-init container does, done by the lab's kubelet: an NSM Request to the
// NSMgr for every URL of NSM_NETWORK_SERVICES, in order, into the pod's netns, before the pod's
// containers start. Each entry's connection id is fixed by the pod's uid and the entry's place,
// so running it again (a failed attempt, a kubelet restart) refreshes rather than adds.
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { podKernelRequest } from "../../wire/nsm/podRequest.ts";
import { ANNOTATION_ENTRY_LABEL, NSM_NETWORK_SERVICES_ENV, annotationConnectionId, parseNsmAnnotation } from "../../wire/nsm/annotation.ts";
import type { NsmUrl } from "../../wire/nsm/annotation.ts";
import type { Container, Pod } from "../../wire/kubernetes.ts";
import { NSC_INIT_IMAGE } from "./admission.ts";

/** The NSMgr as nsc-init reaches it (NSM's gRPC API on the NSMgr's socket). */
export interface NscClient {
  request(req: NetworkServiceRequest): Promise<Connection>;
}

/** The pod's nsc-init container, when it has one the lab's kubelet runs. */
export const nscInitContainer = (pod: Pod): Container | undefined => pod.spec.initContainers?.find((c) => c.image === NSC_INIT_IMAGE);

/** The NSM URLs an nsc container serves, from its environment. */
export function nscServices(c: Container): NsmUrl[] {
  const value = c.env?.find((e) => e.name === NSM_NETWORK_SERVICES_ENV)?.value;
  if (value === undefined) throw new Error(`container ${c.name} has no ${NSM_NETWORK_SERVICES_ENV}`);
  return parseNsmAnnotation(value);
}

/** The Request for entry `index` of a pod placed on `node` with netns `netns`. */
export function nscRequest(pod: Pod, url: NsmUrl, index: number, place: { node: string; netns: string }): NetworkServiceRequest {
  const uid = pod.metadata.uid ?? "";
  return podKernelRequest({
    id: annotationConnectionId(uid, index),
    networkService: url.service,
    pod: { name: pod.metadata.name, namespace: pod.metadata.namespace ?? "default", uid, ...place },
    interfaceName: url.interfaceName,
    labels: { ...url.labels, [ANNOTATION_ENTRY_LABEL]: String(index + 1) },
  });
}

/** A failed nsc-init, naming the entry whose Request failed. */
export class NscInitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NscInitError";
  }
}

/** Requests every entry in order; the connections as built. */
export async function runNscInit(nsm: NscClient, pod: Pod, container: Container, place: { node: string; netns: string }): Promise<Connection[]> {
  let urls: NsmUrl[];
  try {
    urls = nscServices(container);
  } catch (e) {
    throw new NscInitError((e as Error).message);
  }
  const made: Connection[] = [];
  for (const [i, url] of urls.entries()) {
    try {
      made.push(await nsm.request(nscRequest(pod, url, i, place)));
    } catch (e) {
      throw new NscInitError(`${NSM_NETWORK_SERVICES_ENV} entry ${i + 1} (kernel://${url.service}${url.interfaceName ? `/${url.interfaceName}` : ""}): ${(e as Error).message}`);
    }
  }
  return made;
}
