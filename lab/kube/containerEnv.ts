// A container's environment as a kubelet builds it: in order, each `value` with $(VAR) expanded
// from the variables before it ($$ for a literal $, an unknown $(VAR) left as written), each
// fieldRef from the pod, each secretKeyRef / configMapKeyRef read through the API server (an
// optional one that is missing is left out; a required one fails naming the variable).
import type { KubeObject, KubernetesClient, Pod } from "../../wire/kubernetes.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import type { EnvVar } from "../../nsm/forwarderd/manifest.ts";

interface KeyedObject extends KubeObject {
  data?: Record<string, string>;
}

export class ContainerEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerEnvError";
  }
}

/** $(VAR) from `known`, $$(VAR) as the literal $(VAR). */
export function expand(value: string, known: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (name === undefined ? "$" : (known[name] ?? m)));
}

function field(pod: Pod, path: string, ips: { hostIP: string; podIP: string }): string {
  switch (path) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return pod.metadata.namespace ?? "default";
    case "metadata.uid":
      return pod.metadata.uid ?? "";
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return (pod.spec as { serviceAccountName?: string }).serviceAccountName ?? "default";
    case "status.hostIP":
      return ips.hostIP;
    case "status.podIP":
      return ips.podIP;
    default:
      throw new ContainerEnvError(`fieldRef ${path} is not one the lab's kubelet resolves (metadata.name, metadata.namespace, metadata.uid, spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP)`);
  }
}

export async function containerEnv(client: KubernetesClient, pod: Pod, env: readonly EnvVar[], ips: { hostIP: string; podIP: string }): Promise<Record<string, string>> {
  const namespace = pod.metadata.namespace ?? "default";
  const out: Record<string, string> = {};
  const fromObject = async (kind: "secrets" | "configmaps", ref: { name: string; key: string; optional?: boolean }, variable: string): Promise<string | undefined> => {
    const obj = await client.get<KeyedObject>(resourcePath("v1", kind, namespace, ref.name));
    const raw = obj?.data?.[ref.key];
    if (raw === undefined) {
      if (ref.optional) return undefined;
      throw new ContainerEnvError(`env ${variable}: ${kind === "secrets" ? "secret" : "configmap"} ${namespace}/${ref.name} ${obj ? `has no key "${ref.key}"` : "does not exist"}`);
    }
    return kind === "secrets" ? Buffer.from(raw, "base64").toString("utf8") : raw;
  };
  for (const v of env) {
    let value: string | undefined;
    if (v.valueFrom?.fieldRef) value = field(pod, v.valueFrom.fieldRef.fieldPath, ips);
    else if (v.valueFrom?.secretKeyRef) value = await fromObject("secrets", v.valueFrom.secretKeyRef, v.name);
    else if (v.valueFrom?.configMapKeyRef) value = await fromObject("configmaps", v.valueFrom.configMapKeyRef, v.name);
    else if (v.valueFrom) throw new ContainerEnvError(`env ${v.name}: only fieldRef, secretKeyRef and configMapKeyRef are resolved by the lab's kubelet`);
    else value = expand(v.value ?? "", out);
    if (value !== undefined) out[v.name] = value;
  }
  return out;
}
