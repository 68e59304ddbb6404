// Prints the red-blue stack outputs (`pulumi stack output --json` on stdin) as a short summary for
// `npm run demo`; `--get a.b.c` prints just that value (for the demo's own commands).
import { text } from "node:stream/consumers";

interface Outputs {
  networks?: Record<string, { fqName: string; networkId: number; gateway?: string }>;
  vms?: Record<string, { name: string; ip: string; mac: string; host: string }>;
  pods?: Record<string, { name: string; node: string; eth0: string; interfaces: Array<{ service: string; interfaceName: string; ip: string; prefixLength: number; mac: string }> }>;
}

function columns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => "  " + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("   ").trimEnd());
}

function summary(o: Outputs): string[] {
  const lines: string[] = [];
  const nets = Object.values(o.networks ?? {});
  if (nets.length) lines.push("TF virtual networks", ...columns(nets.map((n) => [n.fqName, `VNI ${n.networkId}`, `gateway ${n.gateway ?? "-"}`])));
  const vms = Object.values(o.vms ?? {});
  if (vms.length) lines.push("OpenStack VMs", ...columns(vms.map((v) => [v.name, v.ip, v.mac, `on ${v.host}`])));
  const pods = Object.values(o.pods ?? {});
  if (pods.length) {
    lines.push("Pods (eth0 on the pod network, NSM interfaces into TF networks)");
    lines.push(
      ...columns(
        pods.map((p) => [p.name, `on ${p.node}`, `eth0 ${p.eth0}`, p.interfaces.map((i) => `${i.interfaceName} ${i.ip}/${i.prefixLength} (${i.service})`).join("   ")]),
      ),
    );
  }
  return lines.length ? lines : ["(the stack has no outputs)"];
}

const outputs = JSON.parse(await text(process.stdin)) as Outputs;
const at = process.argv.indexOf("--get");
if (at >= 0) {
  const path = process.argv[at + 1] ?? "";
  const value = path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], outputs);
  if (value === undefined) {
    process.stderr.write(`no stack output ${path}\n`);
    process.exit(1);
  }
  process.stdout.write(`${typeof value === "string" ? value : JSON.stringify(value)}\n`);
} else {
  process.stdout.write(summary(outputs).join("\n") + "\n");
}
