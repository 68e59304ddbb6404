// Finding a VM or pod by what a person types: a Nova server name, a server id (or its first 8+
// characters), or a Kubernetes pod as topology names it: "name" in namespace default, else
// "namespace/name" ("default/name" works too, as kubectl's -n default would). Used by `lab exec`
// and the test fixture.
import type { TopologyView } from "./topologyView.ts";

export class WorkloadLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkloadLookupError";
  }
}

export interface Workload {
  kind: "vm" | "pod";
  name: string;
  id?: string;
  node: string;
  netns: string;
}

export function workloads(view: TopologyView): Workload[] {
  return view.nodes.flatMap((n) => [
    ...n.vms.map((v): Workload => ({ kind: "vm", name: v.name ?? v.serverId, id: v.serverId, node: n.name, netns: v.netns })),
    ...n.pods.map((p): Workload => ({ kind: "pod", name: p.name, node: n.name, netns: p.netns })),
  ]);
}

export function findWorkload(view: TopologyView, target: string): Workload {
  const all = workloads(view);
  const byId = all.filter((w) => w.id !== undefined && (w.id === target || (target.length >= 8 && w.id.startsWith(target))));
  if (byId.length === 1) return byId[0]!;
  const podName = target.startsWith("default/") ? target.slice("default/".length) : target;
  const byName = all.filter((w) => w.name === target || (w.kind === "pod" && w.name === podName));
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    const list = byName.map((w) => (w.kind === "vm" ? `VM ${w.name} (${w.id})` : `pod ${w.name}`)).join(", ");
    throw new WorkloadLookupError(`"${target}" is ambiguous: ${list}; use the server id`);
  }
  const known = all.map((w) => w.name);
  throw new WorkloadLookupError(`no VM or pod "${target}" in lab "${view.instance}"${known.length ? `; there are: ${known.join(", ")}` : ""}`);
}
