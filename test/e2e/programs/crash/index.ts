// One of each resource on one network: the network with its service (TenantNetwork), a VM on it,
// and a pod attached to the service (AttachedPod). The crash e2e test deploys it with a crash
// injected at a named step (the provider or the lab daemon killed there) and then recovers it.
import { AttachedPod } from "tfmesh/components/attachedPod";
import { TenantNetwork } from "tfmesh/components/tenantNetwork";
import { VirtualMachine } from "tfmesh/provider/virtualMachine";

const net = new TenantNetwork("net", { name: "crash-net", subnets: [{ cidr: "10.3.3.0/24" }] });
const vm = new VirtualMachine("vm", { name: "crash-vm", image: "cirros-0.6.2", flavor: "m1.tiny", networks: [net.networkId] });
const pod = new AttachedPod("pod", { name: "crash-pod", networks: [{ service: net.serviceName }] });

export const vmId = vm.serverId;
export const vmIp = vm.ip;
export const vmPort = vm.ports.apply((p) => p[0]?.portId ?? "");
export const vmHost = vm.host;
export const podIp = pod.interfaces.apply((i) => i[0]?.ip ?? "");
export const connectionId = pod.attachments[0]!.connectionId;
