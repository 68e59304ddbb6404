// The resource's own URN as an input (`__owner`): a dynamic provider's check and create never see
// the URN, and a create retried after a crash needs an identity that was fixed before its first
// attempt (provider/impl/identity.ts). Computed in the program the way the engine computes it
// (project, stack, the parent's type chain, the type token of pulumi.dynamic.Resource, the name).
import * as pulumi from "@pulumi/pulumi";

export function ownerUrn(name: string, module: string, type: string, opts: pulumi.CustomResourceOptions | undefined): pulumi.Output<string> {
  const urn = pulumi.createUrn(name, `pulumi-nodejs:dynamic/${module}:${type}`, opts?.parent);
  // Only the value: an input that depends on the parent would make the resource wait for its
  // parent component's children, itself among them.
  return pulumi.output(new Promise<string>((resolve) => urn.apply((u) => resolve(u))));
}
