// The pods `lab status` lists: asked from the API server (not the daemon), so the Ready state is
// what Kubernetes users see, with the netns the lab's kubelet made for each (its annotation).
import type { LabInstanceConfig } from "../instance.ts";
import { loadKubeconfig } from "../../wire/kubeconfig.ts";
import { KubernetesClient, NETNS_ANNOTATION, resourcePath } from "../../wire/kubernetes.ts";
import type { Pod } from "../../wire/kubernetes.ts";
import { existingKubeconfig } from "./files.ts";

export interface PodRow {
  namespace: string;
  name: string;
  node: string;
  /** The pod's own netns; a hostNetwork pod shows its node's, marked as such. */
  netns: string;
  /** "Ready", "not ready", "Pending" (not bound or not started yet) or "Terminating". */
  state: string;
}

export function podRow(config: LabInstanceConfig, p: Pod): PodRow {
  const node = p.spec.nodeName ?? "";
  const netns = p.spec.hostNetwork ? (node ? `${config.prefix}-${node} (host network)` : "(host network)") : (p.metadata.annotations?.[NETNS_ANNOTATION] ?? "-");
  const ready = p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
  const state = p.metadata.deletionTimestamp ? "Terminating" : ready ? "Ready" : p.status?.phase === "Running" ? "not ready" : (p.status?.phase ?? "Pending");
  return { namespace: p.metadata.namespace ?? "default", name: p.metadata.name, node: node || "-", netns, state };
}

/** Every pod of the instance's API server, by namespace and name. */
export async function listLabPods(config: LabInstanceConfig): Promise<PodRow[]> {
  const kubeconfig = existingKubeconfig(config.stateDir, config.name);
  const kube = new KubernetesClient({ ...loadKubeconfig(kubeconfig).options, retries: 0, timeoutMs: 10_000 });
  const pods = (await kube.list<Pod>(resourcePath("v1", "pods"))).items.map((p) => podRow(config, p));
  return pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export function renderPods(rows: PodRow[]): string[] {
  if (rows.length === 0) return ["  (none)"];
  const table = [["NAMESPACE", "NAME", "NODE", "NETNS", "STATE"], ...rows.map((r) => [r.namespace, r.name, r.node, r.netns, r.state])];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) => `  ${r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c)).join("  ")}`);
}
