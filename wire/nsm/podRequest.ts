// The NSM Request that gives a Kubernetes pod an interface: the pod's labels (node, name, namespace,
// uid) and the kernel mechanism into its netns. One shape for every client here: PodAttachment, the
// lab's nsc-init and the bench.
import type { NetworkServiceRequest } from "./api.ts";
import { KERNEL, MechanismParam, NODE_LABEL, POD_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL } from "./api.ts";

export interface RequestingPod {
  name: string;
  namespace: string;
  uid: string;
  node: string;
  /** Its netns under /var/run/netns when known; without it the forwarder finds the netns from the uid. */
  netns?: string | undefined;
}

export function podKernelRequest(o: { id: string; networkService: string; pod: RequestingPod; interfaceName?: string | undefined; labels?: Record<string, string> }): NetworkServiceRequest {
  const { pod } = o;
  return {
    connection: {
      id: o.id,
      network_service: o.networkService,
      labels: { ...o.labels, [NODE_LABEL]: pod.node, [POD_LABEL]: pod.name, [POD_NAMESPACE_LABEL]: pod.namespace, [POD_UID_LABEL]: pod.uid },
    },
    mechanism_preferences: [
      {
        cls: "LOCAL",
        type: KERNEL,
        parameters: {
          ...(o.interfaceName ? { [MechanismParam.name]: o.interfaceName } : {}),
          ...(pod.netns ? { [MechanismParam.inodeURL]: `file:///var/run/netns/${pod.netns}`, [MechanismParam.netnsName]: pod.netns } : {}),
        },
      },
    ],
  };
}
