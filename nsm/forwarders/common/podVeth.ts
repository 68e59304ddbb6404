// Element: the client's interface, a veth pair with the host end in the node netns and the peer in
// the pod netns. The forwarder alone chooses the interface name: the one the client asked for in
// the kernel mechanism, else the one it chose before (the established connection keeps it), else
// the first nsm-<n> free in the pod; it writes its choice into the mechanism (`name`), where the
// client reads it. The pod end gets the MAC in the context (allocated by an earlier element, e.g.
// TF's VMI MAC), else a stable one derived from the connection id, which it writes into the
// context. Both ends carry an alias derived from the connection id, which is how a heal finds them,
// and how leftovers of a crashed forwarder are found and removed before building anew. A heal keeps
// a healthy pair as it is. Check: the pod end is there, under its name, with its MAC.
import { createHash } from "node:crypto";
import { KeyedQueue } from "../../../lib/keyedQueue.ts";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { applyOrUndo, checkThenPassOn, passCloseOn, passOn } from "../../chain.ts";
import { clientNetnsOf, connectionAlias, interfaceOf, isHeal, mtuOf, nodeOf, srcMacOf, withContext, withInterfaceName } from "../../connection.ts";
import { NsmError } from "../../errors.ts";
import type { PodPlacement } from "./clientNetns.ts";
import type { KernelOps, LinkInfo } from "./kernelOps.ts";

/** The forwarder's names for the host end. */
export interface VethEnds {
  /** Host end name, e.g. tap<11 hex of the VMI uuid>, from what earlier elements wrote into the connection. */
  hostName(c: Connection): string | undefined;
  /** The bridge the host end joins, if any. */
  master?(c: Connection): string | undefined;
}

const DEFAULT_PREFIX = "nsm-";

// Interface names are chosen per pod; two connections of one pod must not both pick nsm-1. The lock
// covers choosing the name until the interface exists under it; configuring it needs no lock.
const podLocks = new KeyedQueue();

export function podVeth(name: string, kernel: KernelOps, placement: PodPlacement, ends: VethEnds): Element<Connection> {
  const where = (c: Connection) => ({ pod: clientNetnsOf(c), node: placement.nodeNetns(nodeOf(c)), alias: connectionAlias(c.id) });
  /** Removes whatever carries this connection's alias (or the host end's name) in the pod and on the node. */
  const removeLeftovers = async (c: Connection, podLinks: LinkInfo[], hostLinks: LinkInfo[]) => {
    const { pod, node, alias } = where(c);
    const hostName = ends.hostName(c);
    for (const l of podLinks.filter((l) => l.alias === alias)) await kernel.deleteLink(l.name, pod);
    for (const l of hostLinks.filter((l) => l.alias === alias || l.name === hostName)) await kernel.deleteLink(l.name, node);
  };
  const linksIn = async (ns: string) => (kernel.netnsExists(ns) ? kernel.links(ns) : []);

  /** Under the pod's lock: the interface under its final name (created unless healthy). */
  const claim = (c: Connection): Promise<{ out: Connection; ifName: string; hostName: string; created: boolean }> =>
    podLocks.run(clientNetnsOf(c), async () => {
      const { pod, node, alias } = where(c);
      if (!kernel.netnsExists(pod)) throw new NsmError(400, `the client netns "${pod}" does not exist`);
      const hostName = ends.hostName(c);
      if (!hostName) throw new Error("no host interface name");
      const [podLinks, hostLinks] = await Promise.all([kernel.links(pod), linksIn(node)]);
      const mine = podLinks.find((l) => l.alias === alias);
      const ifName = interfaceOf(c) ?? mine?.name ?? nextFreeName([...podLinks.map((l) => l.name), ...(placement.heldInterfaceNames?.(pod, c.id) ?? [])]);
      const mac = (srcMacOf(c) ?? stableMac(c.id)).toLowerCase();
      const out = withContext(withInterfaceName(c, ifName), { ethernet_context: { src_mac: mac } });

      const host = hostLinks.find((l) => l.name === hostName);
      if (mine && mine.name === ifName && host?.alias === alias && mine.mac === mac) return { out, ifName, hostName, created: false };
      const clash = podLinks.find((l) => l.name === ifName && l.alias !== alias);
      if (clash) throw new NsmError(409, `interface ${ifName} already exists in ${pod} and belongs to something else`);
      await removeLeftovers(c, podLinks, hostLinks);
      await applyOrUndo(
        () => kernel.createVeth({ name: hostName, netns: node }, { name: ifName, netns: pod, mac }, mtuOf(c)),
        () => kernel.deleteLink(hostName, node),
      );
      return { out, ifName, hostName, created: true };
    });

  const configure = async (c: Connection, ifName: string, hostName: string) => {
    const { pod, node, alias } = where(c);
    const mtu = mtuOf(c);
    const master = ends.master?.(c);
    await Promise.all([
      kernel.configureLink(ifName, pod, { ...(mtu ? { mtu } : {}), alias, up: true }),
      kernel.configureLink(hostName, node, { ...(mtu ? { mtu } : {}), alias, ...(master ? { master } : {}), up: true }),
    ]);
  };

  const build = async (c: Connection): Promise<Connection> => {
    const { out, ifName, hostName, created } = await claim(c);
    if (created) await applyOrUndo(() => configure(out, ifName, hostName), () => kernel.deleteLink(hostName, where(c).node));
    else await configure(out, ifName, hostName);
    return out;
  };

  const remove = async (c: Connection) => removeLeftovers(c, await linksIn(where(c).pod), await linksIn(where(c).node));

  return {
    name,
    request: async (c, next) => {
      const built = await build(c);
      return passOn(built, next, isHeal(c) ? undefined : () => remove(built));
    },
    close: (c, next) => passCloseOn(c, next, () => remove(c)),
    check: (c, next) =>
      checkThenPassOn(c, next, async () => {
        const { pod, alias } = where(c);
        const ifName = interfaceOf(c);
        const link = (await linksIn(pod)).find((l) => l.name === ifName && l.alias === alias);
        if (!link) return `interface ${ifName} of connection ${c.id} is missing in ${pod}`;
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
