// Element: the service's bridge on the client's node (nsk-<hash>), with the gateway address of the
// connection's ip_context on it; it writes the bridge's name into the context for the veth to join.
// Pods of one service on one node meet on it. The last connection to leave removes it. Creating and
// removing it take a per-bridge lock, and a bridge is never removed while a request that ensured it
// is still on its way to enslaving its interface (counted in `inFlight`), so the requests of
// different connections only wait for each other during the ensure itself, not for the whole chain.
import { KeyedQueue } from "../../../lib/keyedQueue.ts";
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { passCloseOn, passOn } from "../../chain.ts";
import { isHeal, nodeOf, withContext } from "../../connection.ts";
import type { PodPlacement } from "../common/clientNetns.ts";
import type { KernelOps } from "../common/kernelOps.ts";
import { bridgeName, KERNEL_BRIDGE } from "./names.ts";

export function localBridge(kernel: KernelOps, placement: Pick<PodPlacement, "nodeNetns">): Element<Connection> {
  const locks = new KeyedQueue();
  const inFlight = new Map<string, number>();
  const where = (c: Connection) => {
    const node = placement.nodeNetns(nodeOf(c));
    const bridge = bridgeName(c.network_service);
    return { node, bridge, key: `${node}/${bridge}` };
  };

  const enter = (k: string) => inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
  const leave = (k: string) => {
    const n = (inFlight.get(k) ?? 1) - 1;
    if (n > 0) inFlight.set(k, n);
    else inFlight.delete(k);
  };

  /** Removes the bridge when no interface is on it and no request is about to put one there. */
  const removeIfUnused = (c: Connection) => {
    const { node, bridge, key } = where(c);
    return locks.run(key, async () => {
      if (inFlight.has(key) || !kernel.netnsExists(node)) return;
      const links = await kernel.links(node);
      if (links.some((l) => l.name === bridge) && !links.some((l) => l.master === bridge)) await kernel.deleteLink(bridge, node);
    });
  };

  return {
    name: "kernel/bridge",
    request: async (c, next) => {
      const { node, bridge, key } = where(c);
      const gateway = c.context?.ip_context?.dst_ip_addrs?.[0];
      if (!gateway) throw new Error(`connection ${c.id} has no gateway address (ip_context.dst_ip_addrs) for the bridge`);
      enter(key);
      let left = false;
      const leaveOnce = () => {
        if (!left) leave(key);
        left = true;
      };
      try {
        await locks.run(key, () => kernel.ensureBridge(bridge, node, gateway));
        return await passOn(
          withContext(c, { extra_context: { [KERNEL_BRIDGE]: bridge } }),
          next,
          isHeal(c)
            ? undefined
            : async () => {
                leaveOnce();
                await removeIfUnused(c);
              },
        );
      } finally {
        leaveOnce();
      }
    },
    close: (c, next) => passCloseOn(c, next, () => removeIfUnused(c)),
  };
}
