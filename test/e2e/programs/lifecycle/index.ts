// red and blue, one VM and two pods, shaped by config so the lifecycle e2e test can change a
// running stack the way a user would: `lifecycle:podNetworks` ("red", "red,blue") lists the
// networks app-pod joins (nsm-1, nsm-2, ... in that order), `lifecycle:vmNetwork` ("red" or
// "blue") puts app-vm on one of them, `lifecycle:vmName` names it. blue-pod stays on blue. The
// pods are Kubernetes pods in the lab's cluster (AttachedPod's default provider).
import * as pulumi from "@pulumi/pulumi";
import { AttachedPod } from "tfmesh/components/attachedPod";
import { TenantNetwork } from "tfmesh/components/tenantNetwork";
import { VirtualMachine } from "tfmesh/provider/virtualMachine";

const config = new pulumi.Config("lifecycle");

const networks: Record<string, TenantNetwork> = {
  red: new TenantNetwork("red", { subnets: [{ cidr: "10.1.1.0/24" }] }),
  blue: new TenantNetwork("blue", { subnets: [{ cidr: "10.2.2.0/24" }] }),
};
const network = (name: string): TenantNetwork => {
  const net = networks[name.trim()];
  if (!net) throw new Error(`unknown network "${name}"; this program has ${Object.keys(networks).join(" and ")}`);
  return net;
};

const vm = new VirtualMachine("app-vm", {
  name: config.get("vmName") ?? "app-vm",
  image: "cirros-0.6.2",
  flavor: "m1.tiny",
  networks: [network(config.get("vmNetwork") ?? "red").networkId],
});

const podNetworks = (config.get("podNetworks") ?? "red").split(",").filter((n) => n.trim() !== "");
const appPod = new AttachedPod("app-pod", { networks: podNetworks.map((n) => ({ service: network(n).serviceName })) });
const bluePod = new AttachedPod("blue-pod", { networks: [{ service: networks.blue!.serviceName }] });

const podView = (p: AttachedPod) => ({
  name: p.podName,
  uid: p.pod.metadata.uid,
  netns: p.attachments[0]!.netns,
  interfaces: p.interfaces,
  connectionIds: pulumi.all(p.attachments.map((a) => a.connectionId)),
});

export const appVm = { id: vm.serverId, name: vm.name, ip: vm.ip, network: vm.ports.apply((p) => p[0]?.networkName ?? "") };
export const pods = { appPod: podView(appPod), bluePod: podView(bluePod) };
