// The control node: keeps every vRouter's view of every VN in sync. From the plugged-port table it
// computes, per node, which VNs the node hosts (those with an active local port), their gateways,
// which taps sit on which VN bridge, and every endpoint of those VNs (local on a tap, remote behind
// the VXLAN to its node); then each node is converged to that (convergeNode applies only diffs).
// Different VNs share nothing, so no endpoint of one is ever programmed into another.
// When an address of a VN comes back with another MAC, every other node hosting the VN announces it
// to its own ports (a gratuitous ARP, lab/dataplane/announce.ts), so their peers switch at once.
import { announceToLocalPorts } from "../dataplane/announce.ts";
import type { Announcement } from "../dataplane/announce.ts";
import { nodeNetns } from "../dataplane/names.ts";
import { keepSessions } from "../../lib/kernel/index.ts";
import { applyBatches, convergeNode, planIncrement } from "../dataplane/node.ts";
import type { WantedVn } from "../dataplane/node.ts";
import type { Gateway } from "../dataplane/vnPlumbing.ts";
import type { NodeInfo } from "../dataplane/types.ts";
import type { PortRow, PortStore } from "./portStore.ts";

export interface SyncOptions {
  /** Converge from a read of each node, whatever this process converged it to before (start-up). */
  full?: boolean;
  /** Taps that may have been made anew since the last convergence (a plugged port's): put on their bridge again. */
  fresh?: ReadonlySet<string>;
}

export class ControlNode {
  private readonly prefix: string;
  private readonly nodes: Map<string, NodeInfo>;
  private readonly ports: PortStore;
  private readonly log: (line: string) => void;
  /** "<network id>/<ip>" -> the MAC that address last had, kept after its port went away. */
  private readonly lastMac = new Map<string, string>();
  /** What each node was last converged to by this process; gone when a convergence of it failed. */
  private readonly applied = new Map<string, WantedVn[]>();

  constructor(opts: { prefix: string; nodes: NodeInfo[]; ports: PortStore; log?: (line: string) => void }) {
    this.prefix = opts.prefix;
    this.nodes = new Map(opts.nodes.map((n) => [n.name, n]));
    this.ports = opts.ports;
    this.log = opts.log ?? (() => {});
    // The agents write into their nodes on every port change, for as long as the lab runs.
    for (const n of opts.nodes) keepSessions(nodeNetns(opts.prefix, n.name));
  }

  /** Nodes with an active port in any of the VNs. */
  hostsOf(networkIds: Iterable<number>): Set<string> {
    const ids = new Set(networkIds);
    if (ids.size === 0) return new Set();
    return new Set(this.activePorts().filter((p) => ids.has(p.active.networkId)).map((p) => p.node));
  }

  /** What node `name` should carry, computed from the active ports. */
  wantedOn(name: string, active = this.activePorts()): WantedVn[] {
    const localIds = new Set(active.filter((p) => p.node === name).map((p) => p.active.networkId));
    return [...localIds].sort((a, b) => a - b).map((networkId) => {
      const members = active.filter((p) => p.active.networkId === networkId);
      return {
        networkId,
        gateways: distinctGateways(members.flatMap((p) => p.active.gateways)),
        taps: members.filter((p) => p.node === name).map((p) => p.systemName),
        endpoints: members.map((p) =>
          p.node === name
            ? { ip: p.active.ip, mac: p.active.mac, tap: p.systemName }
            : { ip: p.active.ip, mac: p.active.mac, remoteIp: this.nodes.get(p.node)?.ip ?? "" },
        ).filter((e) => e.tap !== undefined || e.remoteIp !== ""),
      };
    });
  }

  /**
   * Converges the given nodes (all when omitted) to the port table, in parallel; then each announces
   * the addresses that moved to another MAC to its own ports, for the endpoints on other nodes (a
   * guest announces itself on its own node). A port that becomes active syncs every node hosting
   * its VN, so every node that may hold the old MAC is among them.
   */
  async sync(nodeNames: Iterable<string> = this.nodes.keys(), opts: SyncOptions = {}): Promise<void> {
    const names = [...new Set(nodeNames)].filter((n) => this.nodes.has(n));
    // No node to converge: no port changed (a config refresh that found nothing), so nothing moved either.
    if (names.length === 0) return;
    const active = this.activePorts();
    const moved = this.movedEndpoints(active);
    await Promise.all(
      names.map(async (n) => {
        const wanted = this.wantedOn(n, active);
        const ns = nodeNetns(this.prefix, n);
        await this.converge(n, ns, wanted, opts);
        const hosted = new Set(wanted.map((vn) => vn.networkId));
        const here = moved.filter((m) => m.node !== n && hosted.has(m.networkId));
        if (here.length === 0) return;
        // A missed announcement costs reachability for a while, never correctness: it must not fail the sync.
        await announceToLocalPorts(ns, here).catch((e: unknown) => this.log(`announcing moved addresses on ${n} failed: ${String(e)}`));
      }),
    );
  }

  /**
   * From what the node was last converged to when only ports and endpoints changed; else, and when
   * that fails (the node changed behind the agent's back: a tap gone), from a read of the node.
   */
  private async converge(node: string, ns: string, wanted: WantedVn[], opts: SyncOptions): Promise<void> {
    const applied = opts.full ? undefined : this.applied.get(node);
    this.applied.delete(node);
    const increment = applied && planIncrement(applied, wanted, opts.fresh ?? new Set());
    if (increment) {
      try {
        await applyBatches(ns, increment);
        this.applied.set(node, wanted);
        return;
      } catch (e) {
        this.log(`incremental update of ${node} failed, converging it from a read: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      }
    }
    await convergeNode(ns, this.nodes.get(node)!.ip, wanted);
    this.applied.set(node, wanted);
  }

  /** Active endpoints whose address had another MAC before (since this process started). */
  private movedEndpoints(active: ReturnType<ControlNode["activePorts"]>): Array<Announcement & { node: string }> {
    const moved: Array<Announcement & { node: string }> = [];
    for (const p of active) {
      const key = `${p.active.networkId}/${p.active.ip}`;
      const before = this.lastMac.get(key);
      if (before !== undefined && before !== p.active.mac) moved.push({ node: p.node, networkId: p.active.networkId, ip: p.active.ip, mac: p.active.mac });
      this.lastMac.set(key, p.active.mac);
    }
    return moved;
  }

  private activePorts(): Array<PortRow & { active: NonNullable<PortRow["active"]> }> {
    return this.ports.list().filter((p): p is PortRow & { active: NonNullable<PortRow["active"]> } => p.active !== undefined);
  }
}

function distinctGateways(gws: Gateway[]): Gateway[] {
  const seen = new Map<string, Gateway>();
  for (const g of gws) seen.set(`${g.ip}/${g.prefixLength}`, g);
  return [...seen.values()];
}
