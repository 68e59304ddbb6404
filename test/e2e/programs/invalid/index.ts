// One valid network, service and (Kubernetes) pod, plus exactly one bad input chosen by `invalid:case`, so
// the e2e test can show that preview rejects it by property name and creates nothing.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubernetesProvider } from "tfmesh/components/kubernetesProvider";
import { NetworkService } from "tfmesh/provider/networkService";
import { PodAttachment } from "tfmesh/provider/podAttachment";
import { VirtualMachine } from "tfmesh/provider/virtualMachine";
import { VirtualNetwork } from "tfmesh/provider/virtualNetwork";

const which = new pulumi.Config("invalid").require("case");
const bad = (c: string) => which === c;

const vn = new VirtualNetwork("net", {
  name: "e2e-net",
  subnets: bad("overlap")
    ? [{ cidr: "10.7.0.0/16" }, { cidr: "10.7.1.0/24" }]
    : [{ cidr: bad("cidr") ? "10.7.1.0/33" : "10.7.1.0/24", ...(bad("gateway") ? { gateway: "10.8.1.1" } : {}) }],
});
const svc = new NetworkService("svc", { name: "e2e-net", virtualNetwork: vn.fqName, forwarder: bad("forwarder") ? "vpp" : "tungsten" });
const pod = new k8s.core.v1.Pod(
  "pod",
  { metadata: { name: "e2e-pod" }, spec: { containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "infinity"] }] } },
  { provider: kubernetesProvider() },
);
new PodAttachment("att", {
  pod: pod.metadata.name,
  namespace: bad("namespace") ? "Not_A_Namespace" : "default",
  networkService: svc.name,
  interfaceName: bad("ifname") ? "nsm-interface-too-long" : "nsm-1",
});
new VirtualMachine("vm", { name: "e2e-vm", image: bad("image") ? "no-such-image" : "cirros-0.6.2", flavor: "m1.tiny", networks: [vn.uuid] });
