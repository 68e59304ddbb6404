// Brings one node's VN plumbing and endpoint entries to a wanted state. The full way reads the
// node (one snapshot) and writes the difference in two batches; it is what start-up, a structural
// change (a VN arriving or leaving, its gateways changing) and any failure take. A node this
// process converged before changes only by ports and endpoints most of the time (a port plugged or
// unplugged in a VN it already carries), and for that the difference follows from what it was
// converged to, with no read: as a vRouter agent programs its datapath from its own tables.
import { bridge, ip, sysctl } from "../../lib/kernel/index.ts";
import type { BatchOptions } from "../../lib/kernel/index.ts";
import { vnBridge, vnVxlan } from "./names.ts";
import { readSnapshot } from "./snapshot.ts";
import { entryStateOfSnapshot, entryStateOfWanted, planEntries } from "./vnEntries.ts";
import type { Endpoint, EntryState } from "./vnEntries.ts";
import { planPlumbing } from "./vnPlumbing.ts";
import type { PlumbingPlan, VnOnNode } from "./vnPlumbing.ts";

export interface WantedVn extends VnOnNode {
  endpoints: Endpoint[];
}

export interface Batches {
  ip: string[][];
  bridge: string[][];
}

/** Makes the node carry exactly `wanted` VNs (VNs not listed are removed), from a read of the node. */
export async function convergeNode(nodeNs: string, localIp: string, wanted: WantedVn[]): Promise<void> {
  const snap = await readSnapshot(nodeNs, { rules: true, routes: true, neigh: true, fdb: true });
  const plumbing = planPlumbing(snap, localIp, wanted);
  const entries = planEntries((id) => withoutRecreated(entryStateOfSnapshot(snap, id), id, plumbing), wanted);
  // Processes of their own: a session's tools may remember links that were made anew since.
  await applyBatches(nodeNs, { ip: [...plumbing.ip, ...entries.ip], bridge: [...plumbing.bridge, ...entries.bridge] }, { ownProcess: true });
  if (plumbing.createdBridges.length > 0) {
    // Forwarding only on VN bridges: the gateway routes inside its VN's table, nothing else is routed.
    await sysctl.set(Object.fromEntries(plumbing.createdBridges.map((b) => [`net.ipv4.conf.${b}.forwarding`, 1])), nodeNs);
  }
}

/** What of a VN's entries outlives the plumbing plan: none on a bridge it creates, none of a VXLAN it makes anew. */
function withoutRecreated(state: EntryState, networkId: number, plumbing: PlumbingPlan): EntryState {
  if (plumbing.createdBridges.includes(vnBridge(networkId))) return { neigh: new Map(), tunnel: new Map(), port: new Map() };
  const vx = vnVxlan(networkId);
  if (!plumbing.createdVxlans.includes(vx)) return state;
  return { neigh: state.neigh, tunnel: new Map(), port: new Map([...state.port].filter(([, port]) => port !== vx)) };
}

export async function applyBatches(nodeNs: string, b: Batches, opts: BatchOptions = {}): Promise<void> {
  if (b.ip.length > 0) await ip.batch(b.ip, nodeNs, opts);
  if (b.bridge.length > 0) await bridge.batch(b.bridge, nodeNs, opts);
}

const gatewayKey = (vn: VnOnNode) => vn.gateways.map((g) => `${g.ip}/${g.prefixLength}`).sort().join(",");

/**
 * The commands that take a node converged to `applied` to `wanted`, or undefined when more than
 * ports and endpoints differ (the full way plans that). `fresh` names taps that may have been
 * made anew since (a healed pod interface keeps its name): they are put on their bridge with their
 * fdb entry again even when `applied` already had them.
 */
export function planIncrement(applied: WantedVn[], wanted: WantedVn[], fresh: ReadonlySet<string>): Batches | undefined {
  if (applied.length !== wanted.length) return undefined;
  const before = new Map(applied.map((vn) => [vn.networkId, vn]));
  if (wanted.some((vn) => before.get(vn.networkId) === undefined || gatewayKey(before.get(vn.networkId)!) !== gatewayKey(vn))) return undefined;

  const plan: Batches = { ip: [], bridge: [] };
  const wantedTaps = new Set(wanted.flatMap((vn) => vn.taps));
  for (const vn of wanted) {
    const had = new Set(before.get(vn.networkId)!.taps);
    for (const tap of vn.taps) if (!had.has(tap) || fresh.has(tap)) plan.ip.push(["link", "set", tap, "master", vnBridge(vn.networkId), "up"]);
  }
  for (const vn of applied) for (const tap of vn.taps) if (!wantedTaps.has(tap)) plan.ip.push(["link", "set", tap, "nomaster"]);

  const entries = planEntries((id) => entryStateOfWanted(before.get(id)!), wanted);
  plan.ip.push(...entries.ip);
  const planned = new Set(entries.bridge.map((l) => l.join(" ")));
  plan.bridge.push(...entries.bridge);
  for (const vn of wanted) {
    for (const e of vn.endpoints) {
      if (e.tap === undefined || !fresh.has(e.tap)) continue;
      const line = ["fdb", "replace", e.mac.toLowerCase(), "dev", e.tap, "master", "static"];
      if (!planned.has(line.join(" "))) plan.bridge.push(line);
    }
  }
  return plan;
}
