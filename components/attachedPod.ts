// AttachedPod: a Kubernetes pod (k8s.core.v1.Pod through @pulumi/kubernetes) with one NSM
// interface per network service it joins, named nsm-1, nsm-2, ... in the order given (the same
// names the NSM annotation would produce). Its container only sleeps: it is the pod's network
// that matters (the lab runs no containers; a real cluster runs busybox).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PodAttachment } from "../provider/podAttachment.ts";
import { kubernetesProvider } from "./kubernetesProvider.ts";

export interface AttachedPodNetworkArgs {
  /** Network service name, e.g. `red.serviceName`. */
  service: pulumi.Input<string>;
  /** Interface name; default nsm-<position starting at 1>. */
  interfaceName?: pulumi.Input<string>;
  labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export interface AttachedPodArgs {
  /** Pod name; default: the component name. */
  name?: pulumi.Input<string>;
  /** Kubernetes namespace; default "default". */
  namespace?: pulumi.Input<string>;
  /** Node to run on (spec.nodeName), e.g. "k8s-1"; default: the scheduler picks. */
  node?: pulumi.Input<string>;
  networks: AttachedPodNetworkArgs[];
  /** The cluster; default kubernetesProvider() (kubernetes:kubeconfig, KUBECONFIG, else the lab). */
  provider?: k8s.Provider;
}

/** What the pod got on one network. */
export interface PodInterface {
  service: string;
  interfaceName: string;
  ip: string;
  prefixLength: number;
  mac: string;
}

export const ATTACHED_POD_IMAGE = "busybox:1.36";

export class AttachedPod extends pulumi.ComponentResource {
  readonly pod: k8s.core.v1.Pod;
  readonly attachments: PodAttachment[];
  readonly podName: pulumi.Output<string>;
  /** The node the pod runs on. */
  readonly node: pulumi.Output<string>;
  /** The pod's address on the pod network (eth0). */
  readonly podIp: pulumi.Output<string>;
  /** The NSM interfaces, in the order of `networks`. */
  readonly interfaces: pulumi.Output<PodInterface[]>;

  constructor(name: string, args: AttachedPodArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:index:AttachedPod", name, {}, opts);
    const provider = args.provider ?? kubernetesProvider();
    this.pod = new k8s.core.v1.Pod(
      name,
      {
        metadata: { name: args.name ?? name, namespace: args.namespace ?? "default", labels: { "app.kubernetes.io/managed-by": "tfmesh", "tfmesh.io/attached-pod": name } },
        spec: {
          ...(args.node !== undefined ? { nodeName: args.node } : {}),
          // sleep ignores SIGTERM as PID 1: do not wait the default 30 s for it on delete.
          terminationGracePeriodSeconds: 1,
          containers: [{ name: "main", image: ATTACHED_POD_IMAGE, command: ["sleep", "infinity"] }],
        },
      },
      { parent: this, provider },
    );
    this.podName = this.pod.metadata.name;
    this.attachments = args.networks.map(
      (net, i) =>
        new PodAttachment(
          `${name}-nsm-${i + 1}`,
          {
            pod: this.pod.metadata.name,
            namespace: this.pod.metadata.namespace,
            networkService: net.service,
            interfaceName: net.interfaceName ?? `nsm-${i + 1}`,
            ...(net.labels !== undefined ? { labels: net.labels } : {}),
          },
          { parent: this },
        ),
    );
    this.node = this.pod.spec.nodeName;
    this.podIp = this.pod.status.podIP;
    this.interfaces = pulumi
      .all(this.attachments.map((a) => pulumi.all([a.networkService, a.interfaceName, a.ip, a.prefixLength, a.mac])))
      .apply((rows) => rows.map(([service, interfaceName, ip, prefixLength, mac]) => ({ service, interfaceName, ip, prefixLength, mac })));
    this.registerOutputs({ podName: this.podName, node: this.node, podIp: this.podIp, interfaces: this.interfaces });
  }
}
