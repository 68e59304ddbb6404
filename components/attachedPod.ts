// AttachedPod: a lab pod with one NSM interface per network service it joins, named nsm-1,
// nsm-2, ... in the order given (the same names the NSM annotation would produce).
import * as pulumi from "@pulumi/pulumi";
import { Pod } from "../provider/pod.ts";
import { PodAttachment } from "../provider/podAttachment.ts";

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
  /** k8s node, e.g. "k8s-1". */
  node?: pulumi.Input<string>;
  networks: AttachedPodNetworkArgs[];
}

/** What the pod got on one network. */
export interface PodInterface {
  service: string;
  interfaceName: string;
  ip: string;
  prefixLength: number;
  mac: string;
}

export class AttachedPod extends pulumi.ComponentResource {
  readonly pod: Pod;
  readonly attachments: PodAttachment[];
  /** The pod's address on the pod network (eth0). */
  readonly podIp: pulumi.Output<string>;
  /** The NSM interfaces, in the order of `networks`. */
  readonly interfaces: pulumi.Output<PodInterface[]>;

  constructor(name: string, args: AttachedPodArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:index:AttachedPod", name, {}, opts);
    this.pod = new Pod(name, { name: args.name ?? name, ...(args.node !== undefined ? { node: args.node } : {}) }, { parent: this });
    this.attachments = args.networks.map(
      (net, i) =>
        new PodAttachment(
          `${name}-nsm-${i + 1}`,
          {
            pod: this.pod.name,
            networkService: net.service,
            interfaceName: net.interfaceName ?? `nsm-${i + 1}`,
            ...(net.labels !== undefined ? { labels: net.labels } : {}),
          },
          { parent: this },
        ),
    );
    this.podIp = this.pod.eth0.apply((e) => e.ip);
    this.interfaces = pulumi
      .all(this.attachments.map((a) => pulumi.all([a.networkService, a.interfaceName, a.ip, a.prefixLength, a.mac])))
      .apply((rows) => rows.map(([service, interfaceName, ip, prefixLength, mac]) => ({ service, interfaceName, ip, prefixLength, mac })));
    this.registerOutputs({ podIp: this.podIp, interfaces: this.interfaces });
  }
}
