// `lab reach` as a person reads it: one matrix per direction (pods -> VMs, VMs -> pods, VMs -> VMs)
// with ✓ and the round trip or ✗, the interfaces each workload has and the network each is on,
// and, when an expectation was given, whether the measurement matches it.
import type { Comparison, Expectation, PairResult, Reachability, ReachWorkload } from "./reachability.ts";

const REACHABLE = "✓";
const ISOLATED = "✗";

function columns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - [...c].length))).join("   ").trimEnd());
}

const ms = (v: number) => `${v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : Math.round(v)} ms`;

/** "✓ 0.08 ms", or with the answering interface when the target has several ("✓ nsm-1 0.08 ms"), or "✗". */
function cell(p: PairResult | undefined, target: ReachWorkload): string {
  if (!p) return "";
  const hit = p.probes.find((x) => x.ok);
  if (!hit) return ISOLATED;
  const via = new Set(target.interfaces.map((f) => f.name)).size > 1 ? ` ${hit.iface}` : "";
  return `${REACHABLE}${via}${hit.rttMs !== undefined ? ` ${ms(hit.rttMs)}` : ""}`;
}

function matrix(title: string, rows: ReachWorkload[], cols: ReachWorkload[], pairs: Map<string, PairResult>): string[] {
  if (rows.length === 0 || cols.length === 0) return [];
  const table = [
    [title, ...cols.map((c) => c.name)],
    ...rows.map((r) => [r.name, ...cols.map((c) => (c === r ? "·" : cell(pairs.get(`${r.name}\u0000${c.name}`), c)))]),
  ];
  return columns(table).map((l) => `  ${l}`);
}

export function renderReachability(r: Reachability): string {
  const vms = r.workloads.filter((w) => w.kind === "vm");
  const pods = r.workloads.filter((w) => w.kind === "pod");
  const pairs = new Map(r.pairs.map((p) => [`${p.from}\u0000${p.to}`, p]));
  const lines: string[] = [];
  const wait = `${r.ping.waitSeconds} s`;
  lines.push(`Reachability in lab "${r.instance}": ping from inside each source's namespace (${r.ping.count} packets, ${wait} timeout), every address of the target`);
  if (vms.length === 0 && pods.length === 0) {
    lines.push("  (no VMs or pods in the lab)");
    return lines.join("\n") + "\n";
  }
  for (const block of [matrix("pods → VMs", pods, vms, pairs), matrix("VMs → pods", vms, pods, pairs), matrix("VMs → VMs", vms, vms, pairs)]) {
    if (block.length) lines.push("", ...block);
  }
  if (r.pairs.length === 0) lines.push("", "  (nothing to measure: pairs need at least one VM)");
  lines.push("", `  ${REACHABLE} reachable (answering interface, average round trip)   ${ISOLATED} isolated (no reply)`);

  lines.push("", "Interfaces");
  const rows: string[][] = [];
  for (const w of [...pods, ...vms]) {
    const label = `${w.name} (${w.kind === "vm" ? "VM" : "pod"} on ${w.node})`;
    if (w.interfaces.length === 0) rows.push([label, "(no addressed interface)", "", ""]);
    w.interfaces.forEach((f, i) => rows.push([i === 0 ? label : "", f.name, `${f.address}/${f.prefixLength}`, f.network ? `on ${f.network}` : ""]));
  }
  lines.push(...columns(rows).map((l) => `  ${l}`));
  return lines.join("\n") + "\n";
}

function describeMeasured(p: PairResult): string {
  const hit = p.probes.find((x) => x.ok);
  if (hit) return `reachable (${hit.address} on ${hit.iface} answered${hit.rttMs !== undefined ? ` in ${ms(hit.rttMs)}` : ""})`;
  const tried = p.probes.map((x) => `${x.address}${x.error ? `: ${x.error}` : ""}`).join(", ");
  return `isolated (no reply from ${tried || "any address: the target has none"})`;
}

export function renderComparison(c: Comparison, e: Expectation, source: string): string {
  const lines: string[] = [];
  lines.push(`Expected (${source}${e.description ? `: ${e.description}` : ""})`);
  if (c.matches) {
    lines.push(`  ${REACHABLE} MATCHES: all ${c.checked} measured pairs are as expected (${c.expectedReachable} reachable, ${c.checked - c.expectedReachable} isolated)`);
    return lines.join("\n") + "\n";
  }
  const problems = c.mismatches.length + c.missing.length + c.unmeasured.length;
  lines.push(`  ${ISOLATED} DOES NOT MATCH: ${problems} problem${problems === 1 ? "" : "s"} (${c.checked} pairs checked)`);
  for (const n of c.missing) lines.push(`    ${n}: expected in the lab, not found`);
  for (const m of c.mismatches) lines.push(`    ${m.from} → ${m.to}: expected ${m.expected}, measured ${describeMeasured(m.measured)}`);
  for (const u of c.unmeasured) lines.push(`    ${u.from} → ${u.to}: expected reachable, but only pod→VM, VM→pod and VM→VM pairs are measured`);
  return lines.join("\n") + "\n";
}
