// VirtualNetwork: a Tungsten Fabric virtual network with its subnets.
import * as pulumi from "@pulumi/pulumi";
import { ownerUrn } from "./owner.ts";
import { dynamicProvider } from "./shim.ts";

const provider = dynamicProvider("tfmesh/provider/impl/virtualNetwork");

export interface AllocationPoolArgs {
  /** First address handed out from this pool. */
  start: pulumi.Input<string>;
  /** Last address handed out from this pool. */
  end: pulumi.Input<string>;
}

export interface SubnetArgs {
  /** The subnet, e.g. "10.1.1.0/24" (prefix length at most /29). */
  cidr: pulumi.Input<string>;
  /** Gateway address; TF picks the last host (or the first with addrFromStart) when omitted. */
  gateway?: pulumi.Input<string>;
  /** DNS server address; TF picks one next to the gateway when omitted. */
  dnsServer?: pulumi.Input<string>;
  /** Ranges ports get addresses from; the whole subnet when omitted. */
  allocationPools?: pulumi.Input<pulumi.Input<AllocationPoolArgs>[]>;
  /** Allocate addresses from the bottom of the range up (default: from the top down). */
  addrFromStart?: pulumi.Input<boolean>;
}

export interface VirtualNetworkArgs {
  /** TF name of the network (last fq_name element); default: the resource name plus a random suffix. */
  name?: pulumi.Input<string>;
  /** Project fq_name, default "default-domain:admin". */
  project?: pulumi.Input<string>;
  /** The network-ipam the subnets hang off, default "default-domain:default-project:default-network-ipam". */
  ipam?: pulumi.Input<string>;
  /** At least one subnet; subnets must not overlap. */
  subnets: pulumi.Input<pulumi.Input<SubnetArgs>[]>;
  /**
   * Take over the existing network `<project>:<name>` instead of creating one (`name` is then
   * required, and `subnets` must describe the network as it is). Checked at preview.
   */
  adopt?: pulumi.Input<boolean>;
  /** With `adopt`: delete the network on destroy too (default: destroy leaves an adopted network in place). */
  deleteAdopted?: pulumi.Input<boolean>;
}

/** A subnet as TF holds it, with the values the server computed. */
export interface VirtualNetworkSubnet {
  cidr: string;
  gateway: string;
  dnsServer: string;
  subnetUuid: string;
  allocationPools: Array<{ start: string; end: string }>;
  addrFromStart: boolean;
}

export class VirtualNetwork extends pulumi.dynamic.Resource {
  /** TF name of the network. */
  declare readonly name: pulumi.Output<string>;
  /** Project fq_name the network lives in. */
  declare readonly project: pulumi.Output<string>;
  /** The network-ipam fq_name. */
  declare readonly ipam: pulumi.Output<string>;
  /** TF uuid (also the Neutron network id). */
  declare readonly uuid: pulumi.Output<string>;
  /** Fully qualified name, e.g. "default-domain:admin:red": what a NetworkService binds to. */
  declare readonly fqName: pulumi.Output<string>;
  /** TF's virtual_network_network_id; the VXLAN VNI in the lab. */
  declare readonly networkId: pulumi.Output<number>;
  /** Subnets with the gateway, DNS address and subnet uuid TF assigned. */
  declare readonly subnets: pulumi.Output<VirtualNetworkSubnet[]>;
  /** True when the network existed and was adopted rather than created. */
  declare readonly adopted: pulumi.Output<boolean | undefined>;

  constructor(name: string, args: VirtualNetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        __logicalName: name,
        __owner: ownerUrn(name, "tf", "VirtualNetwork", opts),
        name: args.name,
        project: args.project,
        ipam: args.ipam,
        subnets: args.subnets,
        adopt: args.adopt,
        deleteAdopted: args.deleteAdopted,
        adopted: undefined,
        uuid: undefined,
        fqName: undefined,
        networkId: undefined,
      },
      opts,
      "tf",
      "VirtualNetwork",
    );
  }
}
