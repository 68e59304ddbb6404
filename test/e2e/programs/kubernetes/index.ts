// A Namespace and a 2-replica Deployment through @pulumi/kubernetes, on the lab's API server
// (config kubernetes-e2e:kubeconfig: the lab's admin kubeconfig, as a path).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

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
      template: { metadata: { labels }, spec: { containers: [{ name: "hello", image: "registry.invalid/hello:1" }] } },
    },
  },
  { provider },
);

export const namespace = ns.metadata.name;
export const deploymentName = deployment.metadata.name;
export const readyReplicas = deployment.status.readyReplicas;
