// Pod: a pod of the lab's pod runtime (its own network namespace with eth0 on the pod network).
import * as pulumi from "@pulumi/pulumi";
import { ownerUrn } from "./owner.ts";
import { dynamicProvider } from "./shim.ts";

const provider = dynamicProvider("tfmesh/provider/impl/pod");

export interface PodArgs {
  /** Pod name (DNS-1123 label); default: the resource name plus a random suffix. */
  name?: pulumi.Input<string>;
  /** k8s node to run on, e.g. "k8s-1"; the runtime picks one when omitted. Changing it replaces the pod. */
  node?: pulumi.Input<string>;
}

/** The pod's own interface on the pod network. */
export interface PodEth0 {
  ip: string;
  prefixLength: number;
  mac: string;
}

export class Pod extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  /** Node the pod runs on. */
  declare readonly node: pulumi.Output<string>;
  /** The pod's network namespace. */
  declare readonly netns: pulumi.Output<string>;
  declare readonly uid: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  /** eth0 on the pod network (10.244.0.0/16 in the lab). */
  declare readonly eth0: pulumi.Output<PodEth0>;

  constructor(name: string, args: PodArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { __logicalName: name, __owner: ownerUrn(name, "lab", "Pod", opts), name: args.name, node: args.node, netns: undefined, uid: undefined, status: undefined, eth0: undefined },
      opts,
      "lab",
      "Pod",
    );
  }
}
