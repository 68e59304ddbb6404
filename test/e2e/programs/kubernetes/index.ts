// A Namespace and a 2-replica Deployment through @pulumi/kubernetes, on the lab's API server
// (config kubernetes-e2e:kubeconfig: the lab's admin kubeconfig, as a path), and the TF network
// red with its NSM service. Config kubernetes-e2e:attachPod names one of the Deployment's pods:
// it then gets nsm-1 on red through a PodAttachment (removing the key detaches it).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TenantNetwork } from "tfmesh/components/tenantNetwork";
import { PodAttachment } from "tfmesh/provider/podAttachment";

const config = new pulumi.Config("kubernetes-e2e");
const provider = new k8s.Provider("lab", { kubeconfig: config.require("kubeconfig"), enableServerSideApply: true });

const ns = new k8s.core.v1.Namespace("apps", { metadata: { name: config.require("namespace") } }, { provider });
const labels = { app: "hello" };
const deployment = new k8s.apps.v1.Deployment(
  "hello",
  {
    metadata: { name: "hello", namespace: ns.metadata.name },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "hello", image: "busybox:1.36", command: ["sleep", "infinity"] }] } },
    },
  },
  { provider },
);

const red = new TenantNetwork("red", { subnets: [{ cidr: "10.1.1.0/24" }] });
const attachPod = config.get("attachPod");
const attachment = attachPod
  ? new PodAttachment("hello-red", { pod: attachPod, namespace: ns.metadata.name, networkService: red.serviceName, interfaceName: "nsm-1" }, { dependsOn: [deployment] })
  : undefined;

export const namespace = ns.metadata.name;
export const deploymentName = deployment.metadata.name;
export const readyReplicas = deployment.status.readyReplicas;
export const attached = attachment ? { pod: attachment.pod, podUid: attachment.podUid, netns: attachment.netns, node: attachment.node, ip: attachment.ip, mac: attachment.mac } : undefined;
