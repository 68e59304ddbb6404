// VMs as namespaces: eth<i> per port (port MAC, address, default route via the first port's
// gateway), its host end tap<11 hex of the VMI uuid> in the node.
import { createVeth, deleteLink, ip, listLinks, netns } from "../../lib/kernel/index.ts";
import { tapName } from "../../wire/vrouterAgent.ts";
import { nodeNetns, vmIf, vmNetns } from "./names.ts";
import { emptySnapshot, isUp, readSnapshot } from "./snapshot.ts";
import type { VmSpec } from "./types.ts";

/** Makes the VM's namespace and interfaces match the spec; reads first, writes only what differs. */
export async function realizeVmNamespace(prefix: string, vm: VmSpec): Promise<void> {
  const vmNs = vmNetns(prefix, vm.serverId);
  const nodeNs = nodeNetns(prefix, vm.node);
  const created = await netns.add(vmNs);
  const [snap, nodeLinks] = await Promise.all([created ? emptySnapshot() : readSnapshot(vmNs, { routes: true }), listLinks(nodeNs)]);
  const onNode = new Set(nodeLinks.map((l) => l.ifname));
  const lines: string[][] = [];
  for (const [i, p] of vm.ports.entries()) {
    const eth = vmIf(i);
    const tap = tapName(p.vmiUuid);
    const found = snap.links.get(eth);
    const intact = found !== undefined && onNode.has(tap) && found.address === p.mac.toLowerCase();
    if (!intact) {
      if (onNode.has(tap)) await deleteLink(tap, nodeNs);
      if (found) await deleteLink(eth, vmNs);
      await createVeth(tap, eth, { netnsA: nodeNs, netnsB: vmNs, macB: p.mac });
    }
    const link = intact ? found : undefined;
    const want = `${p.ip}/${p.prefixLength}`;
    const have = link ? (snap.addrs.get(eth) ?? []) : [];
    if (!have.includes(want)) lines.push(["addr", "replace", want, "dev", eth]);
    for (const a of have) if (a !== want) lines.push(["addr", "del", a, "dev", eth]);
    if (!isUp(link)) lines.push(["link", "set", eth, "up"]);
  }
  for (const name of snap.links.keys()) {
    const m = /^eth(\d+)$/.exec(name);
    if (m && Number(m[1]) >= vm.ports.length) lines.push(["link", "del", name]);
  }
  const first = vm.ports[0];
  const def = snap.routes.find((r) => r.dst === "default" && (r.table === undefined || r.table === "main"));
  if (first && (lines.length > 0 || def?.gateway !== first.gateway || def?.dev !== vmIf(0))) {
    lines.push(["route", "replace", "default", "via", first.gateway, "dev", vmIf(0)]);
  }
  await ip.batch(lines, vmNs);
}
