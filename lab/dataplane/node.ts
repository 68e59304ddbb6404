// Brings one node's VN plumbing and endpoint entries to a wanted state in one read and two batches.
import { bridge, ip, sysctl } from "../../lib/kernel/index.ts";
import { readSnapshot } from "./snapshot.ts";
import { planEntries } from "./vnEntries.ts";
import type { Endpoint } from "./vnEntries.ts";
import { planPlumbing } from "./vnPlumbing.ts";
import type { VnOnNode } from "./vnPlumbing.ts";

export interface WantedVn extends VnOnNode {
  endpoints: Endpoint[];
}

/** Makes the node carry exactly `wanted` VNs (VNs not listed are removed). */
export async function convergeNode(nodeNs: string, localIp: string, wanted: WantedVn[]): Promise<void> {
  const snap = await readSnapshot(nodeNs, { rules: true, routes: true, neigh: true, fdb: true });
  const plumbing = planPlumbing(snap, localIp, wanted);
  const entries = planEntries(snap, wanted);
  await ip.batch([...plumbing.ip, ...entries.ip], nodeNs);
  await bridge.batch([...plumbing.bridge, ...entries.bridge], nodeNs);
  if (plumbing.createdBridges.length > 0) {
    // Forwarding only on VN bridges: the gateway routes inside its VN's table, nothing else is routed.
    await sysctl.set(Object.fromEntries(plumbing.createdBridges.map((b) => [`net.ipv4.conf.${b}.forwarding`, 1])), nodeNs);
  }
}
