// VirtualMachine: an OpenStack (Nova) server on one or more networks.
import * as pulumi from "@pulumi/pulumi";
import { ownerUrn } from "./owner.ts";
import { dynamicProvider } from "./shim.ts";

const provider = dynamicProvider("tfmesh/provider/impl/virtualMachine");

export interface VirtualMachineNetworkArgs {
  /** Network uuid (e.g. `red.uuid`) or name. */
  network: pulumi.Input<string>;
  /** A fixed address on that network; allocated by the server when omitted. */
  fixedIp?: pulumi.Input<string>;
}

export interface VirtualMachineArgs {
  /** Server name; default: the resource name plus a random suffix. */
  name?: pulumi.Input<string>;
  /** Glance image name or uuid, e.g. "cirros". */
  image: pulumi.Input<string>;
  /** Nova flavor name or id, e.g. "m1.tiny". */
  flavor: pulumi.Input<string>;
  /** Networks in order: a uuid or name, or { network, fixedIp }. Changing them replaces the server. */
  networks: pulumi.Input<pulumi.Input<string | VirtualMachineNetworkArgs>[]>;
  /** Compute host to boot on (admin); the scheduler picks one when omitted. */
  host?: pulumi.Input<string>;
  /** How long create waits for ACTIVE before deleting the server again; default 600. */
  timeoutSeconds?: pulumi.Input<number>;
  /**
   * Take over the existing server named `name` instead of booting one (`name` is then required,
   * and exactly one server may carry it; its image, flavor and networks must be the declared ones).
   */
  adopt?: pulumi.Input<boolean>;
  /** With `adopt`: delete the server on destroy too (default: destroy leaves an adopted server running). */
  deleteAdopted?: pulumi.Input<boolean>;
}

/** A port of the server, as Neutron reports it. */
export interface VirtualMachinePort {
  portId: string;
  networkId: string;
  networkName: string;
  ip: string;
  mac: string;
}

export class VirtualMachine extends pulumi.dynamic.Resource {
  /** Server name. */
  declare readonly name: pulumi.Output<string>;
  /** Nova server id (the resource id). */
  declare readonly serverId: pulumi.Output<string>;
  /** Nova status, "ACTIVE" once booted. */
  declare readonly status: pulumi.Output<string>;
  /** Compute host the server runs on. */
  declare readonly host: pulumi.Output<string>;
  declare readonly imageId: pulumi.Output<string>;
  declare readonly flavorId: pulumi.Output<string>;
  /** Network name -> addresses. */
  declare readonly addresses: pulumi.Output<Record<string, string[]>>;
  /** One port per network, in the order of `networks`, with MAC and address. */
  declare readonly ports: pulumi.Output<VirtualMachinePort[]>;
  /** The address on the first network. */
  declare readonly ip: pulumi.Output<string>;
  /** The administrator password Nova generated (secret), when it reports one. */
  declare readonly adminPass: pulumi.Output<string | undefined>;
  /** True when the server existed and was adopted rather than booted. */
  declare readonly adopted: pulumi.Output<boolean | undefined>;
  /**
   * Ports the vRouter agent of the server's host did not carry at the last refresh (unplugged, or
   * their interface gone); the next up hard-reboots the server, which plugs them again. Absent
   * when the provider cannot reach that agent.
   */
  declare readonly unpluggedPorts: pulumi.Output<string[] | undefined>;

  constructor(name: string, args: VirtualMachineArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        __logicalName: name,
        __owner: ownerUrn(name, "openstack", "VirtualMachine", opts),
        name: args.name,
        image: args.image,
        flavor: args.flavor,
        networks: args.networks,
        host: args.host,
        timeoutSeconds: args.timeoutSeconds,
        adopt: args.adopt,
        deleteAdopted: args.deleteAdopted,
        adopted: undefined,
        serverId: undefined,
        status: undefined,
        imageId: undefined,
        flavorId: undefined,
        addresses: undefined,
        ports: undefined,
        ip: undefined,
        adminPass: undefined,
        unpluggedPorts: undefined,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["adminPass"] }),
      "openstack",
      "VirtualMachine",
    );
  }
}
