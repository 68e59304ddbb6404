// One pod on two TF networks at once: NSM gives it nsm-1 on red and nsm-2 on blue, next to its
// own eth0 on the pod network. Uses the provider's resources directly (no components).
// The networks are named red and blue like the reference scenario; run one of the two stacks
// on a lab at a time, or rename them with `pulumi config set multiattach:prefix ma-`.
import * as pulumi from "@pulumi/pulumi";
import { NetworkService } from "tfmesh/provider/networkService";
import { Pod } from "tfmesh/provider/pod";
import { PodAttachment } from "tfmesh/provider/podAttachment";
import { VirtualNetwork } from "tfmesh/provider/virtualNetwork";

const prefix = new pulumi.Config("multiattach").get("prefix") ?? "";

const networks = [
  { name: `${prefix}red`, cidr: "10.1.1.0/24" },
  { name: `${prefix}blue`, cidr: "10.2.2.0/24" },
].map(({ name, cidr }) => {
  const vn = new VirtualNetwork(name, { name, subnets: [{ cidr }] });
  const service = new NetworkService(name, { name, virtualNetwork: vn.fqName });
  return { vn, service };
});

const pod = new Pod("multi-pod", { name: `${prefix}multi-pod` });
const attachments = networks.map(
  ({ service }, i) => new PodAttachment(`multi-pod-nsm-${i + 1}`, { pod: pod.name, networkService: service.name, interfaceName: `nsm-${i + 1}` }),
);

export const podName = pod.name;
export const eth0 = pod.eth0;
export const interfaces = attachments.map((a) => ({ service: a.networkService, name: a.interfaceName, ip: a.ip, mac: a.mac, routes: a.routes }));
