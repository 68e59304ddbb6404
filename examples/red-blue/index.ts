// The reference scenario (shared/design.md): TF networks red and blue in project admin, two VMs
// on red and one on blue, and pods that join them through NSM (red-pod, blue-pod, and one pod on
// both). The pods are Kubernetes pods (k8s.core.v1.Pod through @pulumi/kubernetes). `pulumi up`
// builds it against the lab by default, and against real clusters given their kubeconfig and
// endpoints (README.md); `pulumi destroy` removes all of it.
import * as pulumi from "@pulumi/pulumi";
import { AttachedPod } from "tfmesh/components/attachedPod";
import { kubernetesProvider } from "tfmesh/components/kubernetesProvider";
import { TenantNetwork } from "tfmesh/components/tenantNetwork";
import { VirtualMachine } from "tfmesh/provider/virtualMachine";

const config = new pulumi.Config("redblue");
const image = config.get("image") ?? "cirros-0.6.2";
const flavor = config.get("flavor") ?? "m1.tiny";
const namespace = config.get("namespace") ?? "default";

// 1. Two TF virtual networks in project admin, each with the NSM network service pods ask for.
// Addresses are handed out from the start of the subnet (gateway .1, DNS .2, then .3, .4, ...),
// as in the seed talk; TF's default would count down from .253.
const subnet = (cidr: string) => [{ cidr, addrFromStart: true }];
const red = new TenantNetwork("red", { project: "default-domain:admin", subnets: subnet("10.1.1.0/24") });
const blue = new TenantNetwork("blue", { project: "default-domain:admin", subnets: subnet("10.2.2.0/24") });

// 2. Two OpenStack VMs on red, one on blue.
const vm = (name: string, net: TenantNetwork) => new VirtualMachine(name, { name, image, flavor, networks: [net.networkId] });
const redVm1 = vm("red-vm-1", red);
const redVm2 = vm("red-vm-2", red);
const blueVm = vm("blue-vm", blue);

// 3.-5. Pods: one on red, one on blue, one on both (nsm-1 on red, nsm-2 on blue), in the cluster
// of kubernetes:kubeconfig, KUBECONFIG, else the lab's.
const provider = kubernetesProvider();
const pod = (name: string, networks: TenantNetwork[]) => new AttachedPod(name, { namespace, provider, networks: networks.map((n) => ({ service: n.serviceName })) });
const redPod = pod("red-pod", [red]);
const bluePod = pod("blue-pod", [blue]);
const bothPod = pod("both-pod", [red, blue]);

const vmView = (v: VirtualMachine) => ({ name: v.name, ip: v.ip, mac: v.ports.apply((p) => p[0]?.mac ?? ""), host: v.host });
const podView = (p: AttachedPod) => ({ name: p.podName, namespace: p.pod.metadata.namespace, node: p.node, eth0: p.podIp, interfaces: p.interfaces });

export const networks = {
  red: { fqName: red.fqName, uuid: red.networkId, networkId: red.network.networkId, gateway: red.network.subnets.apply((s) => s[0]?.gateway) },
  blue: { fqName: blue.fqName, uuid: blue.networkId, networkId: blue.network.networkId, gateway: blue.network.subnets.apply((s) => s[0]?.gateway) },
};
export const vms = { redVm1: vmView(redVm1), redVm2: vmView(redVm2), blueVm: vmView(blueVm) };
export const pods = { redPod: podView(redPod), bluePod: podView(bluePod), bothPod: podView(bothPod) };
