// NetworkServiceCr (real clusters): the NSM registry record as the Kubernetes custom resource
// (networkservicemesh.io/v1, kind NetworkService), annotated with the TF network and forwarder
// that realize it, as NetworkService does for the lab's registry.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const NSM_API_VERSION = "networkservicemesh.io/v1";
export const VIRTUAL_NETWORK_ANNOTATION = "tfmesh.io/virtual-network";
export const FORWARDER_ANNOTATION = "tfmesh.io/forwarder";

export interface NetworkServiceCrArgs {
  /** Service name; default: the component name. */
  name?: pulumi.Input<string>;
  /** Namespace the NSM registry watches; default "nsm-system". */
  namespace?: pulumi.Input<string>;
  payload?: pulumi.Input<"ETHERNET" | "IP">;
  /** TF virtual network fq_name, e.g. `tenant.fqName`. */
  virtualNetwork: pulumi.Input<string>;
  forwarder?: pulumi.Input<string>;
  provider?: k8s.Provider;
}

export class NetworkServiceCr extends pulumi.ComponentResource {
  readonly resource: k8s.apiextensions.CustomResource;
  readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: NetworkServiceCrArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:k8s:NetworkServiceCr", name, {}, opts);
    const forwarder = args.forwarder ?? "tungsten";
    this.resource = new k8s.apiextensions.CustomResource(
      name,
      {
        apiVersion: NSM_API_VERSION,
        kind: "NetworkService",
        metadata: {
          name: args.name ?? name,
          namespace: args.namespace ?? "nsm-system",
          annotations: { [VIRTUAL_NETWORK_ANNOTATION]: args.virtualNetwork, [FORWARDER_ANNOTATION]: forwarder },
        },
        spec: {
          payload: args.payload ?? "ETHERNET",
          // Route every client of this service to a forwarder of the bound type.
          matches: [{ routes: [{ destination_selector: { forwarder } }] }],
        },
      },
      { parent: this, ...(args.provider ? { provider: args.provider } : {}) },
    );
    this.serviceName = this.resource.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
