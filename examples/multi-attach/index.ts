// One pod on two TF networks at once: NSM gives it nsm-1 on red and nsm-2 on blue, next to its
// own eth0 on the pod network. Uses the provider's resources and a k8s.core.v1.Pod directly (no
// components). The networks are named red and blue like the reference scenario; run one of the
// two stacks on a lab at a time, or rename them with `pulumi config set multiattach:prefix ma-`.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubernetesProvider } from "tfmesh/components/kubernetesProvider";
import { NetworkService } from "tfmesh/provider/networkService";
import { PodAttachment } from "tfmesh/provider/podAttachment";
import { VirtualNetwork } from "tfmesh/provider/virtualNetwork";

const prefix = new pulumi.Config("multiattach").get("prefix") ?? "";

const networks = [
  { name: `${prefix}red`, cidr: "10.1.1.0/24" },
  { name: `${prefix}blue`, cidr: "10.2.2.0/24" },
].map(({ name, cidr }) => {
  const vn = new VirtualNetwork(name, { name, subnets: [{ cidr }] });
  const service = new NetworkService(name, { name, virtualNetwork: vn.fqName });
  return { vn, service };
});

// The cluster of kubernetes:kubeconfig, KUBECONFIG, else the lab's.
const pod = new k8s.core.v1.Pod(
  "multi-pod",
  {
    metadata: { name: `${prefix}multi-pod`, namespace: "default" },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "infinity"] }] },
  },
  { provider: kubernetesProvider() },
);
const attachments = networks.map(
  ({ service }, i) =>
    new PodAttachment(`multi-pod-nsm-${i + 1}`, { pod: pod.metadata.name, namespace: pod.metadata.namespace, networkService: service.name, interfaceName: `nsm-${i + 1}` }),
);

export const podName = pod.metadata.name;
export const node = pod.spec.nodeName;
export const eth0 = pod.status.podIP;
export const interfaces = attachments.map((a) => ({ service: a.networkService, name: a.interfaceName, ip: a.ip, mac: a.mac, routes: a.routes }));
