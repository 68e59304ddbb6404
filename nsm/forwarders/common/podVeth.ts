// Element: the client's interface, a veth pair with the host end in the node netns and the peer in
// the pod netns. The forwarder alone chooses the interface name: the one the client asked for in
// the kernel mechanism, else the one it chose before (the established connection keeps it), else
// the first nsm-<n> free in the pod; it writes its choice into the mechanism (`name`), where the
// client reads it. The pod end gets the MAC in the context (allocated by an earlier element, e.g.
// TF's VMI MAC), else a stable one derived from the connection id, which it writes into the
// context. Both ends carry an alias derived from the connection id, which is how a heal finds them,
// and how leftovers of a crashed forwarder are found and removed before building anew. A first
// request always builds anew, in two batches (the pod end created, aliased and up in one run in the
// pod, then the host end's settings in one run on the node); a heal keeps a healthy pair as it is.
// Check: the pod end is there, under its name, with its MAC.
import { createHash } from "node:crypto";
import { KeyedQueue } from "../../../lib/keyedQueue.ts";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { applyOrUndo, checkThenPassOn, passCloseOn, passOn } from "../../chain.ts";
import { clientNetnsOf, connectionAlias, interfaceOf, isHeal, mtuOf, nodeOf, srcMacOf, withContext, withInterfaceName } from "../../connection.ts";
import { NsmError } from "../../errors.ts";
import type { PodPlacement } from "./clientNetns.ts";
import { isExists } from "./kernelOps.ts";
import type { KernelOps } from "./kernelOps.ts";
import { interfaceOwner } from "../../../wire/nsm/annotation.ts";

/** The forwarder's names for the host end. */
export interface VethEnds {
  /** Host end name, e.g. tap<11 hex of the VMI uuid>, from what earlier elements wrote into the connection. */
  hostName(c: Connection): string | undefined;
  /** The bridge the host end joins, if any. */
  master?(c: Connection): string | undefined;
}

const DEFAULT_PREFIX = "nsm-";

// Interface names are chosen per pod; two connections of one pod must not both pick nsm-1. The lock
// covers choosing the name until the interface exists under it (created and configured in one go).
const podLocks = new KeyedQueue();

/**
 * Names this process made in each pod whose connection is not answered yet (so not in the
 * forwarder's store, heldInterfaceNames): a request right behind it in the pod's lock must not
 * pick the same one.
 */
const inFlight = new Map<string, Map<string, string>>();
const claimName = (pod: string, ifName: string, id: string) => void (inFlight.get(pod) ?? inFlight.set(pod, new Map()).get(pod)!).set(ifName, id);
const releaseNames = (pod: string, id: string) => {
  const names = inFlight.get(pod);
  if (!names) return;
  for (const [n, owner] of names) if (owner === id) names.delete(n);
  if (names.size === 0) inFlight.delete(pod);
};
const namesInFlight = (pod: string, except: string) => [...(inFlight.get(pod) ?? [])].flatMap(([n, owner]) => (owner === except ? [] : [n]));

export function podVeth(name: string, kernel: KernelOps, placement: PodPlacement, ends: VethEnds): Element<Connection> {
  const where = (c: Connection) => ({ pod: clientNetnsOf(c), node: placement.nodeNetns(nodeOf(c)), alias: connectionAlias(c.id) });
  const linksIn = async (ns: string, only?: string) => (kernel.netnsExists(ns) ? kernel.links(ns, only) : []);
  /**
   * Close and rollback: the host end (its pod end goes with it). A connection has one pair (a heal
   * that builds anew removes the old one first), so only when there was no host end to delete does
   * the pod get searched for what carries the connection's alias (a pod end is aliased in the batch
   * that creates its pair, so every pair of the connection shows there).
   */
  const remove = async (c: Connection) => {
    const { pod, node, alias } = where(c);
    const hostName = ends.hostName(c);
    if (hostName && (await kernel.deleteLink(hostName, node)) === true) return;
    for (const l of (await linksIn(pod)).filter((l) => l.alias === alias)) await kernel.deleteLink(l.name, pod);
  };

  /**
   * Under the pod's lock: the interface under its final name, configured and up. A first request
   * always builds anew (after removing what a crashed attempt left), so the elements after it
   * find a fresh interface; a heal keeps a healthy pair and only refreshes its settings.
   */
  const claim = (c: Connection): Promise<Connection> =>
    podLocks.run(clientNetnsOf(c), async () => {
      const { pod, node, alias } = where(c);
      if (!kernel.netnsExists(pod)) throw new NsmError(400, `the client netns "${pod}" does not exist`);
      const hostName = ends.hostName(c);
      if (!hostName) throw new Error("no host interface name");
      const heal = isHeal(c);
      const mac = (srcMacOf(c) ?? stableMac(c.id)).toLowerCase();
      const mtu = mtuOf(c);
      const master = ends.master?.(c);
      const host = { name: hostName, netns: node, alias, ...(master ? { master } : {}), up: true };
      const pair = (ifName: string) => kernel.createVeth(host, { name: ifName, netns: pod, mac, alias, up: true }, mtu);
      const answer = (ifName: string) => withContext(withInterfaceName(c, ifName), { ethernet_context: { src_mac: mac } });

      // A first request tries the name it can choose without reading the pod: the one asked for,
      // else the first this forwarder does not hold there. Anything in the way (another
      // forwarder's interface, what a crashed attempt left under the same host end name) makes
      // the create fail, and the pod is read as below.
      const stored = placement.heldInterfaceNames?.(pod, c.id);
      const held = stored && [...stored, ...namesInFlight(pod, c.id)];
      if (!heal && held) {
        const ifName = interfaceOf(c) ?? nextFreeName(held);
        // A pair that could not be made (a name in the way) left nothing to undo.
        const made = await applyOrUndo(
          () =>
            pair(ifName).then(
              () => true,
              (e: unknown) => {
                if (isExists(e)) return false;
                throw e;
              },
            ),
          async () => void (await kernel.deleteLink(hostName, node)),
        );
        if (made) {
          claimName(pod, ifName, c.id);
          return answer(ifName);
        }
      }

      const [podLinks, hostLinks] = await Promise.all([kernel.links(pod), heal ? linksIn(node, hostName) : Promise.resolve([])]);
      const mine = podLinks.find((l) => l.alias === alias);
      const ifName = interfaceOf(c) ?? mine?.name ?? nextFreeName([...podLinks.map((l) => l.name), ...(held ?? [])]);
      const out = answer(ifName);
      claimName(pod, ifName, c.id);

      if (heal && mine && mine.name === ifName && hostLinks[0]?.alias === alias && mine.mac === mac) {
        await Promise.all([
          kernel.configureLink(ifName, pod, { ...(mtu ? { mtu } : {}), alias, up: true }),
          kernel.configureLink(hostName, node, { ...(mtu ? { mtu } : {}), alias, ...(master ? { master } : {}), up: true }),
        ]);
        return out;
      }
      const clash = podLinks.find((l) => l.name === ifName && l.alias !== alias);
      if (clash) throw new NsmError(409, `interface ${ifName} already exists in ${pod} and belongs to ${interfaceOwner(clash.alias)}`);
      for (const l of podLinks.filter((l) => l.alias === alias)) await kernel.deleteLink(l.name, pod);
      if (hostLinks.length > 0) await kernel.deleteLink(hostName, node);
      const create = () => pair(ifName);
      await applyOrUndo(
        () =>
          create().catch(async (e: unknown) => {
            // A host end of this name left behind (its VMI's earlier pair): it goes, and the pair is made again.
            if (!isExists(e)) throw e;
            await kernel.deleteLink(hostName, node);
            await create();
          }),
        async () => void (await kernel.deleteLink(hostName, node)),
      );
      return out;
    });

  return {
    name,
    request: async (c, next) => {
      const built = await claim(c);
      // Once answered, the connection is in the forwarder's store, which names its interface from then on.
      try {
        return await passOn(built, next, isHeal(c) ? undefined : () => remove(built));
      } finally {
        releaseNames(clientNetnsOf(c), c.id);
      }
    },
    close: (c, next) => passCloseOn(c, next, () => remove(c)),
    check: (c, next) =>
      checkThenPassOn(c, next, async () => {
        const { pod, alias } = where(c);
        const ifName = interfaceOf(c);
        const links = await linksIn(pod);
        const link = links.find((l) => l.name === ifName && l.alias === alias);
        if (!link) {
          const other = links.find((l) => l.name === ifName);
          return other ? `interface ${ifName} in ${pod} belongs to ${interfaceOwner(other.alias)}, not to connection ${c.id}` : `interface ${ifName} of connection ${c.id} is missing in ${pod}`;
        }
        const mac = srcMacOf(c)?.toLowerCase();
        return mac && link.mac !== mac ? `interface ${ifName} in ${pod} has MAC ${link.mac}, not ${mac}` : undefined;
      }),
  };
}

/** nsm-1, nsm-2, ...: the first name not taken. */
export function nextFreeName(taken: Iterable<string>, prefix = DEFAULT_PREFIX): string {
  const used = new Set(taken);
  for (let n = 1; ; n++) if (!used.has(`${prefix}${n}`)) return `${prefix}${n}`;
}

/** A stable, locally administered unicast MAC per connection, so a heal keeps the pod's MAC. */
export function stableMac(connectionId: string): string {
  const h = createHash("sha256").update(`mac:${connectionId}`).digest("hex");
  return ["02", ...[0, 2, 4, 6, 8].map((i) => h.slice(i, i + 2))].join(":");
}
