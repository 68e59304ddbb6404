// The vRouter agents of all nodes. An agent keeps the ports it was asked to plug (PortStore) and
// resolves each from the TF config; a port becomes active once it has config and its interface
// exists on the node, and then the control node puts it on its VN's bridge and into every
// hosting node's routes. Every change ends in ControlNode.sync of the nodes it touches.
import { listLinks } from "../../lib/kernel/index.ts";
import { nodeNetns } from "../dataplane/names.ts";
import type { Serial } from "../dataplane/serial.ts";
import type { NodeInfo } from "../dataplane/types.ts";
import { ControlNode } from "./control.ts";
import type { PortConfigSource } from "./portConfig.ts";
import { PortRequestError } from "./portRequest.ts";
import type { PortRequest } from "./portRequest.ts";
import { PortStore } from "./portStore.ts";
import type { ActivePort, PortRow } from "./portStore.ts";
import type { DatabaseSync } from "node:sqlite";

export interface AgentsOptions {
  prefix: string;
  nodes: NodeInfo[];
  db: DatabaseSync;
  config: PortConfigSource;
  serial: Serial;
  log?: (line: string) => void;
}

export class VRouterAgents {
  readonly ports: PortStore;
  readonly control: ControlNode;
  readonly nodes: Map<string, NodeInfo>;
  private readonly prefix: string;
  private readonly config: PortConfigSource;
  private readonly serial: Serial;
  private readonly log: (line: string) => void;
  private unsubscribe: (() => void) | undefined;
  private refreshQueued = false;

  constructor(opts: AgentsOptions) {
    this.prefix = opts.prefix;
    this.nodes = new Map(opts.nodes.map((n) => [n.name, n]));
    this.ports = new PortStore(opts.db);
    this.control = new ControlNode({ prefix: opts.prefix, nodes: opts.nodes, ports: this.ports, ...(opts.log ? { log: opts.log } : {}) });
    this.config = opts.config;
    this.serial = opts.serial;
    this.log = opts.log ?? (() => {});
  }

  /** Follows config changes (a VMI or instance-ip arriving after its port was plugged, a VN's subnets changing). */
  watchConfig(): void {
    this.unsubscribe ??= this.config.onChange?.(() => this.scheduleRefresh());
  }

  unwatchConfig(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  plug(node: string, reqs: PortRequest[]): Promise<void> {
    return this.serial.run(() => this.plugNow(node, reqs));
  }

  unplug(node: string, uuid: string): Promise<void> {
    return this.serial.run(() => this.unplugNow(node, uuid));
  }

  /** Re-reads config and interfaces of every port; `all` converges every node even without changes (start-up). */
  refresh(all = false): Promise<void> {
    return this.serial.run(() => this.refreshNow(all));
  }

  /** GET /port/<uuid>: the plugged port with its live config, or undefined (404) until both exist. */
  view(node: string, uuid: string): Record<string, unknown> | undefined {
    const row = this.ports.get(uuid);
    if (!row || row.node !== node) return undefined;
    const cfg = this.config.resolvePort(uuid);
    if (!cfg) return undefined;
    return { ...row.request, "ip-address": cfg.ip, plen: cfg.prefixLength, gateway: cfg.gateway ?? "", "dns-server": cfg.dnsServer ?? "" };
  }

  /** All or nothing: on any failure the table and the kernel go back to how they were. Caller holds the serial lock. */
  async plugNow(node: string, reqs: PortRequest[]): Promise<void> {
    const info = this.nodes.get(node);
    if (!info) throw new PortRequestError(`no node ${node} in this lab`);
    const present = new Set((await listLinks(nodeNetns(this.prefix, node))).map((l) => l.ifname));
    for (const r of reqs) {
      if (!present.has(r.systemName)) throw new PortRequestError(`port ${r.id}: interface ${r.systemName} does not exist on ${node}; create it before plugging`);
    }
    const before = reqs.map((r) => this.ports.get(r.id));
    const nodes = new Set<string>([node]);
    const vns = new Set<number>();
    for (const b of before) {
      if (!b) continue;
      nodes.add(b.node);
      if (b.active) vns.add(b.active.networkId);
    }
    const now = new Date().toISOString();
    try {
      for (const [i, r] of reqs.entries()) {
        const active = this.evaluate(r.id);
        if (active) vns.add(active.networkId);
        this.ports.put({ uuid: r.id, node, systemName: r.systemName, request: r.raw, createdAt: before[i]?.createdAt ?? now, ...(active ? { active } : {}) });
      }
      await this.control.sync(union(nodes, this.control.hostsOf(vns)));
    } catch (e) {
      reqs.forEach((r, i) => (before[i] ? this.ports.put(before[i]) : this.ports.delete(r.id)));
      await this.control.sync(union(nodes, this.control.hostsOf(vns))).catch((err: unknown) => this.log(`rollback of port plug on ${node} failed: ${String(err)}`));
      throw e;
    }
  }

  /** Removes the port from its VN on every node; unknown ports are fine. Caller holds the serial lock. */
  async unplugNow(node: string, uuid: string): Promise<void> {
    const row = this.ports.get(uuid);
    if (!row || row.node !== node) return;
    this.ports.delete(uuid);
    await this.control.sync(union(new Set([row.node]), this.control.hostsOf(row.active ? [row.active.networkId] : [])));
  }

  /** Caller holds the serial lock. */
  async refreshNow(all: boolean): Promise<void> {
    const rows = this.ports.list();
    const withPorts = [...new Set(rows.map((r) => r.node))].filter((n) => this.nodes.has(n));
    const links = new Map(
      await Promise.all(withPorts.map(async (n) => [n, new Set((await listLinks(nodeNetns(this.prefix, n))).map((l) => l.ifname))] as const)),
    );
    const nodes = new Set<string>();
    const vns = new Set<number>();
    for (const row of rows) {
      const active = links.get(row.node)?.has(row.systemName) ? this.evaluate(row.uuid) : undefined;
      if (sameActive(active, row.active)) continue;
      this.ports.setActive(row.uuid, active);
      nodes.add(row.node);
      if (active) vns.add(active.networkId);
      if (row.active) vns.add(row.active.networkId);
    }
    await this.control.sync(all ? this.nodes.keys() : union(nodes, this.control.hostsOf(vns)));
  }

  private evaluate(uuid: string): ActivePort | undefined {
    const cfg = this.config.resolvePort(uuid);
    if (!cfg) return undefined;
    return { networkId: cfg.networkId, vnUuid: cfg.vnUuid, mac: cfg.mac, ip: cfg.ip, prefixLength: cfg.prefixLength, gateways: cfg.vnGateways };
  }

  private scheduleRefresh(): void {
    if (this.refreshQueued) return;
    this.refreshQueued = true;
    void this.serial
      .run(async () => {
        this.refreshQueued = false;
        await this.refreshNow(false);
      })
      .catch((e: unknown) => this.log(`port refresh after a config change failed: ${String(e)}`));
  }
}

function union<T>(a: Iterable<T>, b: Iterable<T>): Set<T> {
  return new Set([...a, ...b]);
}

function sameActive(a: ActivePort | undefined, b: ActivePort | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export type { PortRow };
