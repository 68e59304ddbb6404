// NsmWorkload (real clusters, @pulumi/kubernetes): a Deployment whose pods carry the NSM
// annotation, so each replica gets one extra interface per network service, e.g.
// `networkservicemesh.io: kernel://red/nsm-1`.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { NSM_ANNOTATION, nsmAnnotation } from "./annotation.ts";

export interface NsmWorkloadNetworkArgs {
  /** Network service name (e.g. `tenant.serviceName`). */
  service: pulumi.Input<string>;
  /** Interface name; default nsm-<position starting at 1>. */
  interfaceName?: pulumi.Input<string>;
  labels?: pulumi.Input<Record<string, string>>;
}

export interface NsmWorkloadArgs {
  namespace?: pulumi.Input<string>;
  image: pulumi.Input<string>;
  command?: pulumi.Input<pulumi.Input<string>[]>;
  replicas?: pulumi.Input<number>;
  networks: NsmWorkloadNetworkArgs[];
  /** Seconds a replica has to stop; Kubernetes' default is 30. */
  terminationGracePeriodSeconds?: pulumi.Input<number>;
  /** Provider for a specific cluster. */
  provider?: k8s.Provider;
}

export class NsmWorkload extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;
  /** The annotation value the pods carry. */
  readonly annotation: pulumi.Output<string>;

  constructor(name: string, args: NsmWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:k8s:NsmWorkload", name, {}, opts);
    this.annotation = pulumi
      .all(args.networks.map((n, i) => pulumi.all([n.service, n.interfaceName ?? `nsm-${i + 1}`, n.labels ?? {}])))
      .apply((rows) => nsmAnnotation(rows.map(([service, interfaceName, labels]) => ({ service, interfaceName, labels }))));
    const appLabels = { app: name };
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: {
          namespace: args.namespace ?? "default",
          labels: appLabels,
          // Destroy waits until the replicas are gone, and with them their NSM connections: the
          // network service they use can be deleted after it.
          annotations: { "pulumi.com/deletionPropagationPolicy": "foreground" },
        },
        spec: {
          replicas: args.replicas ?? 1,
          selector: { matchLabels: appLabels },
          template: {
            metadata: { labels: appLabels, annotations: { [NSM_ANNOTATION]: this.annotation } },
            spec: {
              ...(args.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: args.terminationGracePeriodSeconds } : {}),
              containers: [{ name, image: args.image, ...(args.command !== undefined ? { command: args.command } : {}) }],
            },
          },
        },
      },
      { parent: this, ...(args.provider ? { provider: args.provider } : {}) },
    );
    this.registerOutputs({ annotation: this.annotation });
  }
}
