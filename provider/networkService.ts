// NetworkService: an NSM registry record that pods can ask for, realized by a forwarder.
import * as pulumi from "@pulumi/pulumi";
import { ownerUrn } from "./owner.ts";
import { dynamicProvider } from "./shim.ts";

const provider = dynamicProvider("tfmesh/provider/impl/networkService");

export interface NetworkServiceArgs {
  /** Service name pods ask for (DNS-1123 label); default: the resource name plus a random suffix. */
  name?: pulumi.Input<string>;
  /** Forwarder that builds the interfaces: "tungsten" (default) or "kernel". */
  forwarder?: pulumi.Input<string>;
  /** "ETHERNET" (default) or "IP". */
  payload?: pulumi.Input<string>;
  /** TF virtual network fq_name for the tungsten forwarder, e.g. `red.fqName`. */
  virtualNetwork?: pulumi.Input<string>;
  /** Address range for the kernel forwarder, e.g. "10.9.0.0/24". */
  cidr?: pulumi.Input<string>;
}

export class NetworkService extends pulumi.dynamic.Resource {
  /** Service name (what a pod annotation `kernel://<name>` refers to). */
  declare readonly name: pulumi.Output<string>;
  declare readonly forwarder: pulumi.Output<string>;
  declare readonly payload: pulumi.Output<string>;
  /** Bound TF virtual network fq_name (tungsten forwarder). */
  declare readonly virtualNetwork: pulumi.Output<string | undefined>;
  /** Address range (kernel forwarder). */
  declare readonly cidr: pulumi.Output<string | undefined>;

  constructor(name: string, args: NetworkServiceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        __logicalName: name,
        __owner: ownerUrn(name, "nsm", "NetworkService", opts),
        name: args.name,
        forwarder: args.forwarder,
        payload: args.payload,
        virtualNetwork: args.virtualNetwork,
        cidr: args.cidr,
      },
      opts,
      "nsm",
      "NetworkService",
    );
  }
}
