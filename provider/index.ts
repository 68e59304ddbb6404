// tfmesh/provider: TF virtual networks, OpenStack VMs, NSM network services and attachments of
// Kubernetes pods to them, as Pulumi resources; lookups of existing objects.
export { VirtualNetwork } from "./virtualNetwork.ts";
export type { VirtualNetworkArgs, SubnetArgs, AllocationPoolArgs, VirtualNetworkSubnet } from "./virtualNetwork.ts";
export { VirtualMachine } from "./virtualMachine.ts";
export type { VirtualMachineArgs, VirtualMachineNetworkArgs, VirtualMachinePort } from "./virtualMachine.ts";
export { NetworkService } from "./networkService.ts";
export type { NetworkServiceArgs } from "./networkService.ts";
export { PodAttachment } from "./podAttachment.ts";
export type { PodAttachmentArgs, PodAttachmentRoute } from "./podAttachment.ts";
export {
  getNetworkService,
  getNetworkServiceOutput,
  getVirtualMachine,
  getVirtualMachineOutput,
  getVirtualNetwork,
  getVirtualNetworkOutput,
} from "./lookups.ts";
export type {
  GetNetworkServiceArgs,
  GetNetworkServiceResult,
  GetVirtualMachineArgs,
  GetVirtualMachineResult,
  GetVirtualNetworkArgs,
  GetVirtualNetworkResult,
} from "./lookups.ts";
