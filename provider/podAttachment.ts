// PodAttachment: an NSM connection that gives a Kubernetes pod an extra interface into a network
// service. The pod is found through the API server of the kubeconfig the provider uses (stack
// config kubernetes:kubeconfig, KUBECONFIG, else the lab's), so any running pod can be attached
// and detached without a restart, a Deployment's included.
import * as pulumi from "@pulumi/pulumi";
import { ownerUrn } from "./owner.ts";
import { dynamicProvider } from "./shim.ts";

const provider = dynamicProvider("tfmesh/provider/impl/podAttachment");

export interface PodAttachmentArgs {
  /** Name of the Kubernetes pod to attach (e.g. `pod.metadata.name` of a k8s.core.v1.Pod). */
  pod: pulumi.Input<string>;
  /** The pod's namespace; default "default". */
  namespace?: pulumi.Input<string>;
  /** Name of the network service (e.g. `red.name`). */
  networkService: pulumi.Input<string>;
  /** Interface name inside the pod (<= 15 characters); default: the forwarder picks the lowest free "nsm-<n>" and keeps it. */
  interfaceName?: pulumi.Input<string>;
  /** NSM client labels sent with the request; changing them re-requests in place. */
  labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export interface PodAttachmentRoute {
  prefix: string;
  nextHop?: string;
}

export class PodAttachment extends pulumi.dynamic.Resource {
  declare readonly pod: pulumi.Output<string>;
  declare readonly namespace: pulumi.Output<string>;
  /** The uid of the pod the connection was made for: a pod replaced under the same name shows as drift. */
  declare readonly podUid: pulumi.Output<string>;
  declare readonly networkService: pulumi.Output<string>;
  /** The interface inside the pod, e.g. "nsm-1": the requested name, else the one the forwarder chose. */
  declare readonly interfaceName: pulumi.Output<string>;
  /** NSM connection id (the resource id). */
  declare readonly connectionId: pulumi.Output<string>;
  /** Address of the interface, e.g. "10.1.1.3". */
  declare readonly ip: pulumi.Output<string>;
  declare readonly prefixLength: pulumi.Output<number>;
  /** MAC of the interface (the TF VMI's MAC with the tungsten forwarder). */
  declare readonly mac: pulumi.Output<string>;
  /** Routes installed in the pod for this interface. */
  declare readonly routes: pulumi.Output<PodAttachmentRoute[]>;
  /** Node and network namespace of the pod (netns "" when the forwarder found it from the pod's uid). */
  declare readonly node: pulumi.Output<string>;
  declare readonly netns: pulumi.Output<string>;
  /** "UP", or "DOWN" when at the last refresh the forwarder found the data plane it built broken
   *  (the pod interface gone or changed, its port no longer carried by the VN) or the pod was gone or
   *  replaced (another uid); the next update heals it, attaching the pod now of that name. */
  declare readonly state: pulumi.Output<string>;
  /** The forwarder endpoint that built the interface, e.g. "tungsten@k8s-1". */
  declare readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: PodAttachmentArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        __logicalName: name,
        __owner: ownerUrn(name, "nsm", "PodAttachment", opts),
        pod: args.pod,
        namespace: args.namespace,
        networkService: args.networkService,
        interfaceName: args.interfaceName,
        labels: args.labels,
        connectionId: undefined,
        ip: undefined,
        prefixLength: undefined,
        mac: undefined,
        routes: undefined,
        node: undefined,
        netns: undefined,
        podUid: undefined,
        state: undefined,
        endpoint: undefined,
      },
      opts,
      "nsm",
      "PodAttachment",
    );
  }
}
