// TenantNetwork: a TF virtual network plus the NSM network service that lets pods join it, the
// unit a tenant asks for ("give me red, reachable from VMs and pods").
import * as pulumi from "@pulumi/pulumi";
import { NetworkService } from "../provider/networkService.ts";
import { VirtualNetwork } from "../provider/virtualNetwork.ts";
import type { SubnetArgs } from "../provider/virtualNetwork.ts";

export interface TenantNetworkArgs {
  /** TF network name and NSM service name; default: the component name. */
  name?: pulumi.Input<string>;
  /** Project fq_name, default "default-domain:admin". */
  project?: pulumi.Input<string>;
  subnets: pulumi.Input<pulumi.Input<SubnetArgs>[]>;
  /** NSM service name, when it should differ from the network name. */
  serviceName?: pulumi.Input<string>;
  /** Forwarder that plugs pods in; default "tungsten" (straight into the TF network). */
  forwarder?: pulumi.Input<string>;
}

export class TenantNetwork extends pulumi.ComponentResource {
  readonly network: VirtualNetwork;
  readonly service: NetworkService;
  /** "default-domain:admin:<name>" */
  readonly fqName: pulumi.Output<string>;
  /** TF / Neutron network uuid: what VMs attach to. */
  readonly networkId: pulumi.Output<string>;
  /** The network service name: what pods attach to. */
  readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: TenantNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:index:TenantNetwork", name, {}, opts);
    const vnName = args.name ?? name;
    this.network = new VirtualNetwork(
      name,
      { name: vnName, subnets: args.subnets, ...(args.project !== undefined ? { project: args.project } : {}) },
      { parent: this },
    );
    this.service = new NetworkService(
      name,
      { name: args.serviceName ?? vnName, forwarder: args.forwarder ?? "tungsten", virtualNetwork: this.network.fqName },
      { parent: this },
    );
    this.fqName = this.network.fqName;
    this.networkId = this.network.uuid;
    this.serviceName = this.service.name;
    this.registerOutputs({ fqName: this.fqName, networkId: this.networkId, serviceName: this.serviceName });
  }
}
