// NetworkServiceCr (real clusters): a service as the NSM registry's Kubernetes custom resource
// (networkservicemesh.io/v1, kind NetworkService), the CR the lab's registry writes for the same
// service (wire/nsm/crd.ts): NSM's registry.NetworkService as its spec, the binding to the TF
// network and forwarder in its first match, where NSM's forwarder selection reads it. Its
// annotations `tfmesh.io/forwarder` and `tfmesh.io/virtual-network` are tfmesh's own and only
// informative: nothing reads them.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { checkK8sName } from "../../lib/validate/names.ts";
import type { NetworkService } from "../../wire/nsm/api.ts";
import { FORWARDER_ANNOTATION, NETWORK_SERVICE_KIND, networkServiceCr, NSM_API_VERSION, VIRTUAL_NETWORK_ANNOTATION } from "../../wire/nsm/crd.ts";

export { FORWARDER_ANNOTATION, NSM_API_VERSION, VIRTUAL_NETWORK_ANNOTATION };

export interface NetworkServiceCrArgs {
  /** Service name (a DNS-1123 label); default: the component name. */
  name?: pulumi.Input<string>;
  /** Namespace the NSM registry watches; default "nsm-system". */
  namespace?: pulumi.Input<string>;
  payload?: pulumi.Input<"ETHERNET" | "IP">;
  /** TF virtual network fq_name, e.g. `tenant.fqName`. */
  virtualNetwork: pulumi.Input<string>;
  /** The forwarder type that builds the service's interfaces; default "tungsten". */
  forwarder?: pulumi.Input<string>;
  provider?: k8s.Provider;
}

export class NetworkServiceCr extends pulumi.ComponentResource {
  readonly resource: k8s.apiextensions.CustomResource;
  readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: NetworkServiceCrArgs, opts?: pulumi.ComponentResourceOptions) {
    super("tfmesh:k8s:NetworkServiceCr", name, {}, opts);
    // A name known now that NSM's registry would refuse (the lab's refuses it) fails here, naming it.
    const serviceName = args.name ?? name;
    const problem = typeof serviceName === "string" ? checkK8sName(serviceName) : undefined;
    if (problem) throw new Error(`NetworkServiceCr ${name}: ${problem}`);
    const cr = pulumi
      .all([serviceName, args.namespace ?? "nsm-system", args.payload ?? "ETHERNET", args.virtualNetwork, args.forwarder ?? "tungsten"])
      .apply(([serviceName, namespace, payload, virtualNetwork, forwarder]) => {
        const service = { name: serviceName, payload, forwarder, [forwarder]: { virtual_network: virtualNetwork } } as NetworkService;
        return networkServiceCr(service, namespace);
      });
    this.resource = new k8s.apiextensions.CustomResource(
      name,
      { apiVersion: NSM_API_VERSION, kind: NETWORK_SERVICE_KIND, metadata: cr.metadata, spec: cr.spec },
      { parent: this, ...(args.provider ? { provider: args.provider } : {}) },
    );
    this.serviceName = cr.apply((c) => (c.spec.name as string | undefined) ?? c.metadata.name);
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
