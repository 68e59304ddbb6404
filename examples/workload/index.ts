// An NSM workload beside VMs: TF network red with two OpenStack VMs (and blue with one, which the
// workload must not reach), and a Deployment of 3 replicas whose pod template carries NSM's
// annotation `networkservicemesh.io: kernel://red/nsm-1`.
// No PodAttachment: NSM's admission webhook gives every replica an nsc-init container, which
// requests nsm-1 on red before the pod starts, so scaling and rolling updates attach and detach
// replicas by themselves. `workload:replicas` and `workload:image` change the Deployment.
import * as pulumi from "@pulumi/pulumi";
import { kubernetesProvider } from "tfmesh/components/kubernetesProvider";
import { NsmWorkload } from "tfmesh/components/k8s/nsmWorkload";
import { TenantNetwork } from "tfmesh/components/tenantNetwork";
import { VirtualMachine } from "tfmesh/provider/virtualMachine";

const config = new pulumi.Config("workload");
const prefix = config.get("prefix") ?? "wl-";
const replicas = config.getNumber("replicas") ?? 3;
const image = config.get("image") ?? "busybox:1.36";

const red = new TenantNetwork("red", { name: `${prefix}red`, subnets: [{ cidr: config.get("cidr") ?? "10.5.1.0/24", addrFromStart: true }] });
// Another tenant's network with one VM: the replicas must not reach it.
const blue = new TenantNetwork("blue", { name: `${prefix}blue`, subnets: [{ cidr: config.get("blueCidr") ?? "10.5.2.0/24", addrFromStart: true }] });
const vm = (name: string, net: TenantNetwork) => new VirtualMachine(name, { name: `${prefix}${name}`, image: "cirros-0.6.2", flavor: "m1.tiny", networks: [net.networkId] });
const vms = [vm("red-vm-1", red), vm("red-vm-2", red), vm("blue-vm", blue)];

const web = new NsmWorkload("web", {
  namespace: config.get("namespace") ?? "default",
  image,
  command: ["sleep", "infinity"],
  replicas,
  terminationGracePeriodSeconds: 2,
  networks: [{ service: red.serviceName, interfaceName: config.get("interfaceName") ?? "nsm-1" }],
  provider: kubernetesProvider(),
});

export const network = { fqName: red.fqName, service: red.serviceName };
export const vmAddresses = vms.map((v) => ({ name: v.name, ip: v.ip }));
export const deployment = web.deployment.metadata.name;
export const annotation = web.annotation;
export const readyReplicas = web.deployment.status.readyReplicas;
