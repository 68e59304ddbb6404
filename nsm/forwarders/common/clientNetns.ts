// Element: where the client's interface goes. The client's network namespace comes in the kernel
// mechanism; a forwarder touches only the pods of its cluster, and refuses a request for a netns
// that does not exist before anything is built. A namespace the client names only by path or inode
// (inodeURL file://... or inode://dev/ino) is resolved to its name first and the name written into
// the mechanism (netnsName), where the elements after it and a later close read it. Check: the
// namespace is still there.
import type { Connection } from "../../../wire/nsm/api.ts";
import { MechanismParam, POD_UID_LABEL } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { applyOrUndo, checkThenPassOn, passCloseOn, passOn } from "../../chain.ts";
import { clientNetnsOf, isHeal } from "../../connection.ts";
import { NsmError } from "../../errors.ts";
import { netnsOf } from "../../mechanism.ts";
import { releaseNetnsName, resolveNetnsUrl, resolvePodNetns } from "../../netnsUrl.ts";

/** What the cluster says about where pods and nodes are. */
export interface PodPlacement {
  /** The netns of a node: "<prefix>-<node>" in the lab. */
  nodeNetns(node: string): string;
  /** Whether a client netns may be touched by this forwarder (the lab allows only its own pods). */
  allowPodNetns?(netns: string): boolean;
  /** Whether the netns exists; a request for a missing pod is refused before anything is built. */
  netnsExists?(netns: string): boolean;
  /** The interface names the other established connections of a pod hold (a connection whose
   *  interface went missing keeps its name: its heal rebuilds it under that name). */
  heldInterfaceNames?(podNetns: string, exceptConnection: string): string[];
  /** The name of the namespace an inodeURL means (default: nsm/netnsUrl.ts, through /var/run/netns and /proc). */
  resolveNetnsUrl?(url: string): Promise<string>;
  /** The name of the namespace of the pod with this uid (default: nsm/netnsUrl.ts, through /proc). */
  resolvePodNetns?(uid: string): Promise<string>;
}

/**
 * The connection with its client netns named in the mechanism, resolving an inodeURL that only
 * gives its path or inode, or, with neither, the client pod's uid (label podUid).
 */
async function named(c: Connection, placement: PodPlacement): Promise<Connection> {
  if (netnsOf(c.mechanism)) return c;
  const url = c.mechanism?.parameters?.[MechanismParam.inodeURL];
  const uid = c.labels?.[POD_UID_LABEL];
  if (!url && !uid) throw new NsmError(400, `connection ${c.id}: no client netns in the kernel mechanism`);
  const name = url ? await (placement.resolveNetnsUrl ?? resolveNetnsUrl)(url) : await (placement.resolvePodNetns ?? resolvePodNetns)(uid!);
  return { ...c, mechanism: { ...c.mechanism!, parameters: { ...c.mechanism!.parameters, [MechanismParam.netnsName]: name } } };
}

export function clientNetns(name: string, placement: PodPlacement): Element<Connection> {
  const allowed = (c: Connection): string => {
    const ns = clientNetnsOf(c);
    if (placement.allowPodNetns && !placement.allowPodNetns(ns)) throw new NsmError(400, `connection ${c.id}: netns "${ns}" is not a pod of this cluster`);
    return ns;
  };
  const exists = (ns: string) => !placement.netnsExists || placement.netnsExists(ns);
  return {
    name,
    request: async (input, next) => {
      const c = await named(input, placement);
      // A name this request gave the namespace goes again when the request fails.
      const undo = c !== input && !isHeal(input) ? () => releaseNetnsName(clientNetnsOf(c)) : undefined;
      const ns = await applyOrUndo(async () => allowed(c), undo ?? (async () => {}));
      if (!exists(ns)) throw new NsmError(400, `connection ${c.id}: the client netns "${ns}" does not exist`);
      return passOn(c, next, undo);
    },
    close: (c, next) => {
      const ns = allowed(c);
      return passCloseOn(c, next, () => releaseNetnsName(ns));
    },
    check: (c, next) => checkThenPassOn(c, next, async () => (exists(allowed(c)) ? undefined : `the client netns "${clientNetnsOf(c)}" is gone`)),
  };
}
