// The vRouter agents of all nodes. An agent keeps the ports it was asked to plug (PortStore) and
// resolves each from the TF config; a port becomes active once it has config and its interface
// exists on the node, and then the control node puts it on its VN's bridge and into every
// hosting node's routes. Every change ends in ControlNode.sync of the nodes it touches.
import { listLinks } from "../../lib/kernel/index.ts";
import { nodeNetns } from "../dataplane/names.ts";
import type { KernelTurn, NodeInfo } from "../dataplane/types.ts";
import { ControlNode } from "./control.ts";
import type { ConfigChange, PortConfigSource } from "./portConfig.ts";
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
  inTurn: KernelTurn;
  log?: (line: string) => void;
}

type PortOp = { kind: "plug"; node: string; reqs: PortRequest[] } | { kind: "unplug"; node: string; uuid: string };

interface PendingPortCall {
  op: PortOp;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class VRouterAgents {
  readonly ports: PortStore;
  readonly control: ControlNode;
  readonly nodes: Map<string, NodeInfo>;
  private readonly prefix: string;
  private readonly config: PortConfigSource;
  private readonly inTurn: KernelTurn;
  private readonly log: (line: string) => void;
  private unsubscribe: (() => void) | undefined;
  private refreshQueued = false;
  private readonly pending: PendingPortCall[] = [];
  /** Ports to re-evaluate at the next refresh after config changes. */
  private dirty: Set<string> | "all" = new Set();
  /** instance-ip -> the VMIs whose port config it gave (so its deletion concerns only them). */
  private readonly vmisOfIip = new Map<string, Set<string>>();

  constructor(opts: AgentsOptions) {
    this.prefix = opts.prefix;
    this.nodes = new Map(opts.nodes.map((n) => [n.name, n]));
    this.ports = new PortStore(opts.db);
    this.control = new ControlNode({ prefix: opts.prefix, nodes: opts.nodes, ports: this.ports, ...(opts.log ? { log: opts.log } : {}) });
    this.config = opts.config;
    this.inTurn = opts.inTurn;
    this.log = opts.log ?? (() => {});
  }

  /** Follows config changes (a VMI or instance-ip arriving after its port was plugged, a VN's subnets changing). */
  watchConfig(): void {
    this.unsubscribe ??= this.config.onChange?.((change) => this.scheduleRefresh(change));
  }

  unwatchConfig(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** POST /port. Calls that arrive while kernel work runs are applied together, with one sync. */
  plug(node: string, reqs: PortRequest[]): Promise<void> {
    return this.enqueue({ kind: "plug", node, reqs });
  }

  /** DELETE /port. Batched like plug. */
  unplug(node: string, uuid: string): Promise<void> {
    return this.enqueue({ kind: "unplug", node, uuid });
  }

  private enqueue(op: PortOp): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      if (this.pending.length === 1) void this.inTurn(() => this.drain());
    });
  }

  /**
   * Applies every port call queued so far to the table and converges the touched nodes once: each
   * sync costs a few `ip`/`bridge` runs per node, whether it carries one port change or twenty. If
   * that sync fails, the table goes back and the calls run one at a time, so each gets its own answer.
   */
  private async drain(): Promise<void> {
    const batch = this.pending.splice(0);
    try {
      const present = await this.presentLinks(batch.flatMap((p) => (p.op.kind === "plug" ? [p.op.node] : [])));
      const applied: Array<{ call: PendingPortCall; before: Array<[string, PortRow | undefined]> }> = [];
      const nodes = new Set<string>();
      const vns = new Set<number>();
      for (const call of batch) {
        try {
          const before = this.apply(call.op, present, nodes, vns);
          if (before.length > 0) applied.push({ call, before });
          else call.resolve();
        } catch (e) {
          call.reject(e);
        }
      }
      if (applied.length === 0) return;
      try {
        await this.control.sync(union(nodes, this.control.hostsOf(vns)), { fresh: pluggedTaps(applied.map((a) => a.call.op)) });
        for (const a of applied) a.call.resolve();
      } catch (e) {
        for (const a of [...applied].reverse()) this.restore(a.before);
        await this.control.sync(union(nodes, this.control.hostsOf(vns)), { full: true }).catch((err: unknown) => this.log(`rollback of port changes failed: ${String(err)}`));
        if (applied.length === 1) return applied[0]!.call.reject(e);
        for (const { call } of applied) {
          await (call.op.kind === "plug" ? this.plugNow(call.op.node, call.op.reqs) : this.unplugNow(call.op.node, call.op.uuid)).then(call.resolve, call.reject);
        }
      }
    } catch (e) {
      for (const call of batch) call.reject(e);
    }
  }

  /** The interface names on each node (for the "create the interface before plugging" check). */
  private async presentLinks(nodes: string[]): Promise<Map<string, Set<string>>> {
    const known = [...new Set(nodes)].filter((n) => this.nodes.has(n));
    return new Map(await Promise.all(known.map(async (n) => [n, new Set((await listLinks(nodeNetns(this.prefix, n))).map((l) => l.ifname))] as const)));
  }

  /** One port call's change to the table; answers the rows it replaced (none: nothing changed). */
  private apply(op: PortOp, present: Map<string, Set<string>>, nodes: Set<string>, vns: Set<number>): Array<[string, PortRow | undefined]> {
    if (op.kind === "unplug") {
      const row = this.ports.get(op.uuid);
      if (!row || row.node !== op.node) return [];
      this.ports.delete(op.uuid);
      nodes.add(row.node);
      if (row.active) vns.add(row.active.networkId);
      return [[op.uuid, row]];
    }
    const links = present.get(op.node);
    if (!links) throw new PortRequestError(`no node ${op.node} in this lab`);
    for (const r of op.reqs) {
      if (!links.has(r.systemName)) throw new PortRequestError(`port ${r.id}: interface ${r.systemName} does not exist on ${op.node}; create it before plugging`);
    }
    const before: Array<[string, PortRow | undefined]> = [];
    nodes.add(op.node);
    const now = new Date().toISOString();
    for (const r of op.reqs) {
      const b = this.ports.get(r.id);
      before.push([r.id, b]);
      if (b) nodes.add(b.node);
      if (b?.active) vns.add(b.active.networkId);
      const active = this.evaluate(r.id);
      if (active) vns.add(active.networkId);
      this.ports.put({ uuid: r.id, node: op.node, systemName: r.systemName, request: r.raw, createdAt: b?.createdAt ?? now, ...(active ? { active } : {}) });
    }
    return before;
  }

  /** Re-reads config and interfaces of every port; `all` converges every node even without changes (start-up). */
  refresh(all = false): Promise<void> {
    return this.inTurn(() => this.refreshNow(all));
  }

  /** GET /port/<uuid>: the plugged port with its live config, or undefined (404) until both exist. */
  view(node: string, uuid: string): Record<string, unknown> | undefined {
    const row = this.ports.get(uuid);
    if (!row || row.node !== node) return undefined;
    const cfg = this.config.resolvePort(uuid);
    if (!cfg) return undefined;
    return { ...row.request, "ip-address": cfg.ip, plen: cfg.prefixLength, gateway: cfg.gateway ?? "", "dns-server": cfg.dnsServer ?? "" };
  }

  /**
   * GET /port/<uuid> as a live answer: the port with its config while its interface exists on the
   * node; undefined (404) when the agent does not carry it (never plugged, unplugged, no config
   * yet, another node's) or its interface is gone, as a real agent drops an interface whose tap
   * disappeared.
   */
  async liveView(node: string, uuid: string): Promise<Record<string, unknown> | undefined> {
    const view = this.view(node, uuid);
    if (!view) return undefined;
    const row = this.ports.get(uuid);
    const links = await this.presentLinks([node]);
    return row && links.get(node)?.has(row.systemName) ? view : undefined;
  }

  /** All or nothing: on any failure the table and the kernel go back to how they were. Caller runs in its kernel turn. */
  plugNow(node: string, reqs: PortRequest[]): Promise<void> {
    return this.applyAndSync({ kind: "plug", node, reqs });
  }

  /** Removes the port from its VN on every node; unknown ports are fine. Caller runs in its kernel turn. */
  unplugNow(node: string, uuid: string): Promise<void> {
    return this.applyAndSync({ kind: "unplug", node, uuid });
  }

  private async applyAndSync(op: PortOp): Promise<void> {
    const nodes = new Set<string>();
    const vns = new Set<number>();
    const before = this.apply(op, await this.presentLinks(op.kind === "plug" ? [op.node] : []), nodes, vns);
    if (before.length === 0) return;
    try {
      await this.control.sync(union(nodes, this.control.hostsOf(vns)), { fresh: pluggedTaps([op]) });
    } catch (e) {
      this.restore(before);
      await this.control.sync(union(nodes, this.control.hostsOf(vns)), { full: true }).catch((err: unknown) => this.log(`rollback of port change on ${op.node} failed: ${String(err)}`));
      throw e;
    }
  }

  /** Puts back the rows a change replaced, last change first. */
  private restore(before: Array<[string, PortRow | undefined]>): void {
    for (const [uuid, row] of [...before].reverse()) (row ? this.ports.put(row) : this.ports.delete(uuid));
  }

  /**
   * Caller runs in its kernel turn. `configOnly`: only the config changed (not the interfaces), so
   * rows whose config still says what they show cannot change and their nodes' interfaces need not
   * be listed (a process per node, on every TF write).
   */
  async refreshNow(all: boolean, configOnly = false, only?: Set<string>): Promise<void> {
    const listed = only ? [...only].flatMap((uuid) => this.ports.get(uuid) ?? []) : this.ports.list();
    const rows = listed.map((row) => ({ row, config: this.evaluate(row.uuid) }));
    const mayChange = configOnly ? rows.filter(({ row, config }) => (row.active ? !sameActive(config, row.active) : config !== undefined)) : rows;
    const links = await this.presentLinks(mayChange.map((r) => r.row.node));
    const nodes = new Set<string>();
    const vns = new Set<number>();
    for (const { row, config } of mayChange) {
      const active = links.get(row.node)?.has(row.systemName) ? config : undefined;
      if (sameActive(active, row.active)) continue;
      this.ports.setActive(row.uuid, active);
      nodes.add(row.node);
      if (active) vns.add(active.networkId);
      if (row.active) vns.add(row.active.networkId);
    }
    await this.control.sync(all ? this.nodes.keys() : union(nodes, this.control.hostsOf(vns)), { full: all });
  }

  private evaluate(uuid: string): ActivePort | undefined {
    const cfg = this.config.resolvePort(uuid);
    if (!cfg) return undefined;
    if (cfg.iipUuid) this.vmisOfIip.set(cfg.iipUuid, new Set([...(this.vmisOfIip.get(cfg.iipUuid) ?? []), uuid]));
    return { networkId: cfg.networkId, vnUuid: cfg.vnUuid, mac: cfg.mac, ip: cfg.ip, prefixLength: cfg.prefixLength, gateways: cfg.vnGateways };
  }

  /**
   * Re-evaluates, after config changes, the ports they concern: a VMI's own, an instance-ip's
   * VMIs (a deleted one's from what it last gave a port), all for anything else. Every NSM request
   * writes a VMI and an instance-ip, so evaluating every port on each would cost O(ports) per request.
   */
  private scheduleRefresh(change?: ConfigChange): void {
    const gave = change?.type === "instance-ip" ? [...(this.vmisOfIip.get(change.uuid) ?? [])] : [];
    if (change?.type === "instance-ip" && change.op === "delete") this.vmisOfIip.delete(change.uuid);
    const vmis = change?.vmis ? [...change.vmis, ...gave] : change?.type === "instance-ip" && change.op === "delete" ? gave : undefined;
    if (vmis === undefined || this.dirty === "all") this.dirty = "all";
    else for (const v of vmis) this.dirty.add(v);
    if (this.refreshQueued) return;
    this.refreshQueued = true;
    void this.inTurn(async () => {
      this.refreshQueued = false;
      const dirty = this.dirty;
      this.dirty = new Set();
      await this.refreshNow(false, true, dirty === "all" ? undefined : dirty);
    }).catch((e: unknown) => this.log(`port refresh after a config change failed: ${String(e)}`));
  }
}

/** The interfaces of the ports plugged by these calls: a re-plug may follow a tap made anew. */
function pluggedTaps(ops: PortOp[]): Set<string> {
  return new Set(ops.flatMap((op) => (op.kind === "plug" ? op.reqs.map((r) => r.systemName) : [])));
}

function union<T>(a: Iterable<T>, b: Iterable<T>): Set<T> {
  return new Set([...a, ...b]);
}

function sameActive(a: ActivePort | undefined, b: ActivePort | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
