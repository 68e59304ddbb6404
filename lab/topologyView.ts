// `lab topology`: the instance drawn as a tree a person can read at a glance — the underlay, each
// node with its VN bridges, and the VMs and pods on it with every interface, MAC, address and network.
import type { DataplaneDescription, IfaceDescription } from "./compute/describe.ts";

export type IfaceView = IfaceDescription;
export type NodeView = DataplaneDescription["nodes"][number];

/** What GET /lab/topology answers: the data plane's description with TF and Nova names filled in. */
export interface TopologyView extends DataplaneDescription {
  instance: string;
  prefix: string;
}

interface TreeNode {
  label: string;
  children?: TreeNode[];
}

function drawTree(nodes: TreeNode[], indent = ""): string[] {
  const out: string[] = [];
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    out.push(`${indent}${last ? "└─ " : "├─ "}${n.label}`);
    if (n.children?.length) out.push(...drawTree(n.children, indent + (last ? "   " : "│  ")));
  });
  return out;
}

/** Pads each column to its widest cell so sibling lines line up. */
function columns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd());
}

interface VnSummary {
  fqName?: string;
  networkId: number;
  gateways: Set<string>;
  nodes: string[];
}

/** Short VN names ("red") unless two VNs share one, then the full fq_name. */
function vnLabeler(vns: VnSummary[]): (fq: string | undefined, networkId?: number) => string {
  const shortCount = new Map<string, number>();
  for (const v of vns) {
    if (!v.fqName) continue;
    const short = v.fqName.split(":").at(-1)!;
    shortCount.set(short, (shortCount.get(short) ?? 0) + 1);
  }
  return (fq, networkId) => {
    if (!fq) return networkId !== undefined ? `VN ${networkId}` : "?";
    const short = fq.split(":").at(-1)!;
    return (shortCount.get(short) ?? 0) > 1 ? fq : short;
  };
}

function summarizeVns(view: TopologyView): VnSummary[] {
  const byId = new Map<number, VnSummary>();
  for (const node of view.nodes) {
    for (const n of node.networks) {
      let s = byId.get(n.networkId);
      if (!s) byId.set(n.networkId, (s = { fqName: n.fqName, networkId: n.networkId, gateways: new Set(), nodes: [] }));
      s.fqName ??= n.fqName;
      n.gateways.forEach((g) => s.gateways.add(g));
      s.nodes.push(node.name);
    }
  }
  return [...byId.values()].sort((a, b) => a.networkId - b.networkId);
}

function ifaceRows(ifaces: IfaceView[], label: ReturnType<typeof vnLabeler>): string[] {
  const rows = ifaces.map((f) => {
    const net = f.network === "pod" ? "pod network" : f.network || f.networkId !== undefined ? label(f.network, f.networkId) : "";
    const by = f.connection ? (f.connection.annotationEntry !== undefined ? `(annotation entry ${f.connection.annotationEntry})` : `(connection ${f.connection.id})`) : "";
    return [f.name, f.mac || "-", f.addresses.length ? f.addresses.join(", ") : "(no address)", net ? `→ ${net}` : "", by];
  });
  return columns(rows);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function renderTopology(view: TopologyView): string {
  const vns = summarizeVns(view);
  const label = vnLabeler(vns);
  const lines: string[] = [];
  const vmCount = view.nodes.reduce((n, x) => n + x.vms.length, 0);
  const podCount = view.nodes.reduce((n, x) => n + x.pods.length, 0);
  lines.push(
    `Lab "${view.instance}" (prefix ${view.prefix}): ${plural(view.nodes.length, "node")}, ${plural(vns.length, "virtual network")}, ${plural(vmCount, "VM")}, ${plural(podCount, "pod")}`,
    "",
  );

  if (vns.length > 0) {
    lines.push("Virtual networks (VXLAN VNI = TF network id)");
    const rows = vns.map((v) => [
      label(v.fqName, v.networkId),
      v.fqName ?? "",
      `VNI ${v.networkId}`,
      `gateway ${[...v.gateways].join(", ") || "-"}`,
      `on ${v.nodes.join(", ")}`,
    ]);
    lines.push(...columns(rows).map((l) => `  ${l}`), "");
  }

  lines.push(`Underlay ${view.underlay.cidr}: switch br0 in netns ${view.underlay.netns}`);
  const nodeRows = columns(view.nodes.map((n) => [n.name, n.kind, n.underlayIp, `netns ${n.netns}`]));
  const tree: TreeNode[] = view.nodes.map((node, i) => {
    const children: TreeNode[] = [];
    if (node.networks.length > 0) {
      const rows = columns(
        node.networks.map((n) => [
          `${n.bridge} ⇄ ${n.vxlan}`,
          label(n.fqName, n.networkId),
          `VNI ${n.networkId}`,
          `gw ${n.gateways.join(", ") || "-"}`,
          n.ports.length ? `ports ${n.ports.join(", ")}` : "no ports",
        ]),
      );
      children.push({ label: "VN bridges", children: rows.map((r) => ({ label: r })) });
    }
    if (node.vms.length > 0) {
      children.push({
        label: "VMs",
        children: node.vms.map((vm) => ({
          label: `${vm.name ?? "(unnamed)"}  server ${vm.serverId}  netns ${vm.netns}`,
          children: ifaceRows(vm.interfaces, label).map((r) => ({ label: r })),
        })),
      });
    }
    if (node.pods.length > 0) {
      children.push({
        label: "pods",
        children: node.pods.map((pod) => ({
          label: `${pod.name}  netns ${pod.netns}`,
          children: ifaceRows(pod.interfaces, label).map((r) => ({ label: r })),
        })),
      });
    }
    if (children.length === 0) children.push({ label: "(no virtual networks or workloads yet)" });
    return { label: nodeRows[i]!, children };
  });
  lines.push(...drawTree(tree));
  return lines.join("\n") + "\n";
}
