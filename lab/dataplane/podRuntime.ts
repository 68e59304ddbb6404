// Pods as namespaces on the pod network: eth0 with an address from its node's 10.244.<k+1>.0/24,
// a MAC derived from it, and a default route via the node's cni0. Addresses are persisted so a
// re-created pod keeps its address.
import { createVeth, deleteLink, ip, listLinks, netns } from "../../lib/kernel/index.ts";
import { checkK8sName } from "../../lib/validate/names.ts";
import { POD_BRIDGE, POD_PLEN, nodeNetns, podAddress, podGateway, podHostIf, podMac, podNetns } from "./names.ts";
import { emptySnapshot, isUp, readSnapshot } from "./snapshot.ts";
import type { DataplaneState, PodRow } from "./state.ts";
import type { KernelTurn, NodeInfo, PodEth0, PodRuntime, PodSpec } from "./types.ts";

export class PodSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PodSpecError";
  }
}

export interface PodRuntimeDeps {
  prefix: string;
  nodes: Map<string, NodeInfo>;
  state: DataplaneState;
  inTurn: KernelTurn;
  /** Runs (in the same kernel turn) after a pod's interfaces are gone, so agents drop ports whose tap went with them. */
  afterInterfacesGone?: () => Promise<void>;
}

const FIRST_HOST = 2;
const LAST_HOST = 254;

export class LabPodRuntime implements PodRuntime {
  private readonly d: PodRuntimeDeps;
  private readonly k8s: NodeInfo[];

  constructor(deps: PodRuntimeDeps) {
    this.d = deps;
    this.k8s = [...deps.nodes.values()].filter((n) => n.kind === "k8s");
  }

  createPod(p: PodSpec): Promise<{ netns: string; eth0: PodEth0 }> {
    return this.d.inTurn(() => this.createNow(p));
  }

  deletePod(name: string): Promise<void> {
    return this.d.inTurn(() => this.deleteNow(name));
  }

  listPods(): string[] {
    return this.d.state.listPods().map((p) => p.name);
  }

  private async createNow(p: PodSpec): Promise<{ netns: string; eth0: PodEth0 }> {
    const problem = checkK8sName(p.name);
    if (problem) throw new PodSpecError(`pod name: ${problem}`);
    if (this.k8sIndex(p.node) < 0) throw new PodSpecError(`pods run on k8s nodes (${this.k8s.map((n) => n.name).join(", ")}), not on ${JSON.stringify(p.node)}`);
    let row = this.d.state.getPod(p.name);
    if (row && row.node !== p.node) {
      await this.deleteNow(p.name);
      row = undefined;
    }
    const ipAddr = row?.ip ?? this.allocate(p.node);
    row = { name: p.name, uid: p.uid, node: p.node, ip: ipAddr, mac: podMac(ipAddr) };
    this.d.state.savePod(row);
    await this.realize(row);
    return { netns: podNetns(this.d.prefix, p.name), eth0: { ip: row.ip, prefixLength: POD_PLEN, mac: row.mac } };
  }

  private async deleteNow(name: string): Promise<void> {
    const row = this.d.state.getPod(name);
    const ns = podNetns(this.d.prefix, name);
    if (netns.exists(ns)) {
      // Deleting the pod ends takes their node ends (eth0's veth, taps of attachments nobody closed)
      // with them right away; a deleted namespace would release them only later, asynchronously.
      const links = (await listLinks(ns)).filter((l) => l.ifname !== "lo");
      await ip.batch(links.map((l) => ["link", "del", l.ifname]), ns);
    }
    if (row) await deleteLink(podHostIf(name), nodeNetns(this.d.prefix, row.node));
    await netns.del(ns);
    this.d.state.deletePod(name);
    await this.d.afterInterfacesGone?.();
  }

  /** Makes the pod's namespace and eth0 match its row; reads first, writes only what differs. */
  async realize(row: PodRow): Promise<void> {
    const podNs = podNetns(this.d.prefix, row.name);
    const nodeNs = nodeNetns(this.d.prefix, row.node);
    const host = podHostIf(row.name);
    const created = await netns.add(podNs);
    const [snap, nodeLinks] = await Promise.all([created ? emptySnapshot() : readSnapshot(podNs, { routes: true }), listLinks(nodeNs)]);
    const hostLink = nodeLinks.find((l) => l.ifname === host);
    const found = snap.links.get("eth0");
    const intact = found !== undefined && hostLink !== undefined && found.address === row.mac;
    if (!intact) {
      if (hostLink) await deleteLink(host, nodeNs);
      if (found) await deleteLink("eth0", podNs);
      await createVeth(host, "eth0", { netnsA: nodeNs, netnsB: podNs, macB: row.mac });
    }
    if (!intact || hostLink?.master !== POD_BRIDGE || !isUp(hostLink)) await ip.batch([["link", "set", host, "master", POD_BRIDGE, "up"]], nodeNs);
    const gw = podGateway(this.k8sIndex(row.node));
    const want = `${row.ip}/${POD_PLEN}`;
    const have = intact ? (snap.addrs.get("eth0") ?? []) : [];
    const lines: string[][] = [];
    if (!have.includes(want)) lines.push(["addr", "replace", want, "dev", "eth0"]);
    for (const a of have) if (a !== want) lines.push(["addr", "del", a, "dev", "eth0"]);
    if (!intact || !isUp(found)) lines.push(["link", "set", "eth0", "up"]);
    const def = snap.routes.find((r) => r.dst === "default" && (r.table === undefined || r.table === "main"));
    if (lines.length > 0 || def?.gateway !== gw) lines.push(["route", "replace", "default", "via", gw, "dev", "eth0"]);
    await ip.batch(lines, podNs);
  }

  private k8sIndex(node: string): number {
    return this.k8s.findIndex((n) => n.name === node);
  }

  private allocate(node: string): string {
    const k = this.k8sIndex(node);
    const used = new Set(this.d.state.podIpsOnNode(node));
    for (let h = FIRST_HOST; h <= LAST_HOST; h++) {
      const candidate = podAddress(k, h);
      if (!used.has(candidate)) return candidate;
    }
    throw new PodSpecError(`node ${node} has no free pod address left in ${podAddress(k, 0)}/24`);
  }
}
