// Element: where the client's interface goes. The client's network namespace comes in the kernel
// mechanism; a forwarder touches only the pods of its cluster, and refuses a request for a netns
// that does not exist before anything is built. Check: the namespace is still there.
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { checkThenPassOn } from "../../chain.ts";
import { clientNetnsOf } from "../../connection.ts";
import { NsmError } from "../../errors.ts";

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
    request: (c, next) => {
      const ns = allowed(c);
      if (!exists(ns)) throw new NsmError(400, `connection ${c.id}: the client netns "${ns}" does not exist`);
      return next.request(c);
    },
    close: (c, next) => {
      allowed(c);
      return next.close(c);
    },
    check: (c, next) => checkThenPassOn(c, next, async () => (exists(allowed(c)) ? undefined : `the client netns "${clientNetnsOf(c)}" is gone`)),
  };
}
