// Element: the client's interface, a veth pair with the host end in the node netns and the peer in
// the pod netns under the requested name (default nsm-<n>). Both ends carry an alias derived from
// the connection id, which is how a refresh finds them, and how leftovers of a crashed forwarder
// are found and removed before building anew. A refresh keeps a healthy pair as it is.
import { KeyedQueue } from "../../../lib/keyedQueue.ts";
import type { Element } from "../../chain.ts";
import { applyOrUndo, passCloseOn, passOn } from "../../chain.ts";
import { NsmError } from "../../errors.ts";
import type { KernelOps, LinkInfo } from "./kernelOps.ts";
import { connectionAlias, requestedInterface, withInterfaceName } from "./podCall.ts";
import type { PodCall } from "./podCall.ts";

export interface VethSpec {
  /** Host end name, e.g. tap<11 hex of the VMI uuid>. Unknown on a close whose state is gone. */
  hostName?: string;
  /** Pod-side MAC (e.g. the VMI MAC); the kernel picks one when absent. */
  mac?: string;
  mtu?: number;
  /** Bridge the host end joins. */
  master?: string;
}

const DEFAULT_PREFIX = "nsm-";

// Interface names are chosen per pod; two connections of one pod must not both pick nsm-1. The lock
// covers choosing the name until the interface exists under it; configuring it needs no lock.
const podLocks = new KeyedQueue();

export function podVeth<T extends PodCall>(name: string, kernel: KernelOps, spec: (call: T) => VethSpec): Element<T> {
  /** Removes whatever carries this connection's alias (or the host end's name) in the pod and on the node. */
  const removeLeftovers = async (call: T, podLinks: LinkInfo[], hostLinks: LinkInfo[], hostName: string | undefined) => {
    const alias = connectionAlias(call.connection.id);
    for (const l of podLinks.filter((l) => l.alias === alias)) await kernel.deleteLink(l.name, call.podNetns);
    for (const l of hostLinks.filter((l) => l.alias === alias || l.name === hostName)) await kernel.deleteLink(l.name, call.nodeNetns);
  };
  const nodeLinks = async (call: T) => (kernel.netnsExists(call.nodeNetns) ? kernel.links(call.nodeNetns) : []);

  /** Under the pod's lock: the interface under its final name (created unless healthy). */
  const claim = (call: T): Promise<{ out: T; s: VethSpec; ifName: string; created: boolean }> =>
    podLocks.run(call.podNetns, async () => {
      if (!kernel.netnsExists(call.podNetns)) throw new NsmError(400, `the client netns "${call.podNetns}" does not exist`);
      const s = spec(call);
      if (!s.hostName) throw new Error("no host interface name");
      const alias = connectionAlias(call.connection.id);
      const [podLinks, hostLinks] = await Promise.all([kernel.links(call.podNetns), nodeLinks(call)]);
      const mine = podLinks.find((l) => l.alias === alias);
      const ifName = requestedInterface(call.connection) ?? mine?.name ?? nextFreeName(podLinks);
      const out = { ...call, connection: withInterfaceName(call.connection, ifName) };

      const host = hostLinks.find((l) => l.name === s.hostName);
      const healthy = mine && mine.name === ifName && host?.alias === alias && (s.mac === undefined || mine.mac === s.mac.toLowerCase());
      if (healthy) return { out, s, ifName, created: false };
      const clash = podLinks.find((l) => l.name === ifName && l.alias !== alias);
      if (clash) throw new NsmError(409, `interface ${ifName} already exists in ${call.podNetns} and belongs to something else`);
      await removeLeftovers(call, podLinks, hostLinks, s.hostName);
      await applyOrUndo(
        () => kernel.createVeth({ name: s.hostName!, netns: call.nodeNetns }, { name: ifName, netns: call.podNetns, ...(s.mac ? { mac: s.mac } : {}) }, s.mtu),
        () => kernel.deleteLink(s.hostName!, call.nodeNetns),
      );
      return { out, s, ifName, created: true };
    });

  const build = async (call: T): Promise<T> => {
    const { out, s, ifName, created } = await claim(call);
    if (created) await applyOrUndo(() => configure(out, s, ifName), () => kernel.deleteLink(s.hostName!, call.nodeNetns));
    else await configure(out, s, ifName);
    return out;
  };

  const configure = async (call: T, s: VethSpec, ifName: string) => {
    const alias = connectionAlias(call.connection.id);
    const mtu = s.mtu !== undefined ? { mtu: s.mtu } : {};
    await Promise.all([
      kernel.configureLink(ifName, call.podNetns, { ...mtu, alias, up: true }),
      kernel.configureLink(s.hostName!, call.nodeNetns, { ...mtu, alias, ...(s.master ? { master: s.master } : {}), up: true }),
    ]);
  };

  const remove = async (call: T) => {
    const podLinks = kernel.netnsExists(call.podNetns) ? await kernel.links(call.podNetns) : [];
    await removeLeftovers(call, podLinks, await nodeLinks(call), spec(call).hostName);
  };

  return {
    name,
    request: async (call, next) => {
      const built = await build(call);
      return passOn(built, next, call.refresh ? undefined : () => remove(built));
    },
    close: (call, next) => passCloseOn(call, next, () => remove(call)),
  };
}

/** nsm-1, nsm-2, ...: the first name not taken in the pod. */
export function nextFreeName(links: LinkInfo[], prefix = DEFAULT_PREFIX): string {
  const taken = new Set(links.map((l) => l.name));
  for (let n = 1; ; n++) if (!taken.has(`${prefix}${n}`)) return `${prefix}${n}`;
}
