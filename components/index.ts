// tfmesh/components: units built from the provider's resources (lab or real TF/OpenStack/NSM),
// and the pieces for real clusters on @pulumi/kubernetes and @pulumi/openstack.
export { TenantNetwork } from "./tenantNetwork.ts";
export type { TenantNetworkArgs } from "./tenantNetwork.ts";
export { AttachedPod } from "./attachedPod.ts";
export type { AttachedPodArgs, AttachedPodNetworkArgs, PodInterface } from "./attachedPod.ts";
export { kubernetesProvider } from "./kubernetesProvider.ts";
export { NSM_ANNOTATION, nsmAnnotation } from "./k8s/annotation.ts";
export type { NsmInterfaceRequest } from "./k8s/annotation.ts";
export { NsmWorkload } from "./k8s/nsmWorkload.ts";
export type { NsmWorkloadArgs, NsmWorkloadNetworkArgs } from "./k8s/nsmWorkload.ts";
export { NetworkServiceCr, NSM_API_VERSION } from "./k8s/networkServiceCr.ts";
export type { NetworkServiceCrArgs } from "./k8s/networkServiceCr.ts";
export { TungstenForwarder } from "./k8s/tungstenForwarder.ts";
export type { TungstenForwarderArgs } from "./k8s/tungstenForwarder.ts";
export { ServerOnNetwork } from "./openstack/serverOnNetwork.ts";
export type { ServerOnNetworkArgs } from "./openstack/serverOnNetwork.ts";
