// The Kubernetes provider a tfmesh program declares its pods with: its kubeconfig is found in the
// order the tfmesh provider uses for PodAttachment (stack config kubernetes:kubeconfig, then
// KUBECONFIG's first existing file, then the lab's kubeconfig), so a program runs against the lab
// by default and against a real cluster given another kubeconfig, and both providers see the
// same cluster.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KUBECONFIG_HINT, endpointsFilePath, kubernetesSource, readLabEndpoints } from "../wire/settings.ts";
import type { ConfigGetter } from "../wire/settings.ts";

/** Stack config by full key ("kubernetes:kubeconfig"), as the program sees it. */
const stackConfig: ConfigGetter = (key) => {
  const at = key.indexOf(":");
  return new pulumi.Config(key.slice(0, at)).get(key.slice(at + 1));
};

const made = new Map<string, k8s.Provider>();

/**
 * The k8s.Provider for the cluster tfmesh uses; one per name in a program (calling it again with
 * the same name returns the same provider, so components can default to it).
 */
export function kubernetesProvider(name = "lab-kubernetes", opts?: pulumi.CustomResourceOptions): k8s.Provider {
  const existing = made.get(name);
  if (existing) return existing;
  const env = process.env;
  const file = endpointsFilePath(env, stackConfig);
  const source = kubernetesSource(stackConfig, env, readLabEndpoints(file), file);
  if (!source) throw new Error(`no Kubernetes cluster for the program's pods: ${KUBECONFIG_HINT} (looked for the lab's at ${file})`);
  const provider = new k8s.Provider(name, { kubeconfig: source.kubeconfig, ...(source.context ? { context: source.context } : {}) }, opts);
  made.set(name, provider);
  return provider;
}
