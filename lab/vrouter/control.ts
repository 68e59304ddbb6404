// The control node: keeps every vRouter's view of every VN in sync. From the plugged-port table it
// computes, per node, which VNs the node hosts (those with an active local port), their gateways,
// which taps sit on which VN bridge, and every endpoint of those VNs (local on a tap, remote behind
// the VXLAN to its node); then each node is converged to that (convergeNode applies only diffs).
// Different VNs share nothing, so no endpoint of one is ever programmed into another.
import { nodeNetns } from "../dataplane/names.ts";
import { convergeNode } from "../dataplane/node.ts";
import type { WantedVn } from "../dataplane/node.ts";
import type { Gateway } from "../dataplane/vnPlumbing.ts";
import type { NodeInfo } from "../dataplane/types.ts";
import type { PortRow, PortStore } from "./portStore.ts";

export class ControlNode {
  private readonly prefix: string;
  private readonly nodes: Map<string, NodeInfo>;
  private readonly ports: PortStore;

  constructor(opts: { prefix: string; nodes: NodeInfo[]; ports: PortStore }) {
    this.prefix = opts.prefix;
    this.nodes = new Map(opts.nodes.map((n) => [n.name, n]));
    this.ports = opts.ports;
  }

  /** Nodes with an active port in any of the VNs. */
  hostsOf(networkIds: Iterable<number>): Set<string> {
    const ids = new Set(networkIds);
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

  /** Converges the given nodes (all when omitted) to the port table, in parallel. */
  async sync(nodeNames: Iterable<string> = this.nodes.keys()): Promise<void> {
    const active = this.activePorts();
    const names = [...new Set(nodeNames)].filter((n) => this.nodes.has(n));
    await Promise.all(names.map((n) => convergeNode(nodeNetns(this.prefix, n), this.nodes.get(n)!.ip, this.wantedOn(n, active))));
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
