// ServerOnNetwork (real clouds, @pulumi/openstack): a Neutron port on a network and a Nova
// server booted on it, so the address and MAC are known as outputs. With TF as Neutron's
// backend the network is a TF virtual network, the same one pods join through NSM.
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";

export interface ServerOnNetworkArgs {
  /** Neutron network id (with TF: the virtual network uuid). */
  networkId: pulumi.Input<string>;
  /** Subnet for a fixed address; needed only with fixedIp. */
  subnetId?: pulumi.Input<string>;
  fixedIp?: pulumi.Input<string>;
  imageName: pulumi.Input<string>;
  flavorName: pulumi.Input<string>;
  /** Server name; default: the component name. */
  name?: pulumi.Input<string>;
  /** e.g. "nova:compute-1" to pin a host (admin). */
  availabilityZone?: pulumi.Input<string>;
}

export class ServerOnNetwork extends pulumi.ComponentResource {
  readonly port: openstack.networking.Port;
  readonly server: openstack.compute.Instance;
  readonly ip: pulumi.Output<string>;
  readonly mac: pulumi.Output<string>;

  constructor(name: string, args: ServerOnNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:openstack:ServerOnNetwork", name, {}, opts);
    const fixedIps =
      args.fixedIp !== undefined && args.subnetId !== undefined ? [{ subnetId: args.subnetId, ipAddress: args.fixedIp }] : undefined;
    this.port = new openstack.networking.Port(
      name,
      { networkId: args.networkId, adminStateUp: true, ...(fixedIps ? { fixedIps } : {}) },
      { parent: this },
    );
    this.server = new openstack.compute.Instance(
      name,
      {
        name: args.name ?? name,
        imageName: args.imageName,
        flavorName: args.flavorName,
        networks: [{ port: this.port.id }],
        ...(args.availabilityZone !== undefined ? { availabilityZone: args.availabilityZone } : {}),
      },
      { parent: this },
    );
    this.ip = this.port.allFixedIps.apply((ips) => ips[0] ?? "");
    this.mac = this.port.macAddress;
    this.registerOutputs({ ip: this.ip, mac: this.mac });
  }
}
