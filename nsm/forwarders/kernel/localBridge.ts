// Element: the service's bridge on the client's node (nsk-<hash>), with the gateway address on it.
// Pods of one service on one node meet on it. The last connection to leave removes it. Creating and
// removing it take a per-bridge lock, and a bridge is never removed while a request that ensured it
// is still on its way to enslaving its interface (counted in `inFlight`), so the requests of
// different connections only wait for each other during the ensure itself, not for the whole chain.
import { KeyedQueue } from "../../../lib/keyedQueue.ts";
import type { Element } from "../../chain.ts";
import { passCloseOn, passOn } from "../../chain.ts";
import type { KernelOps } from "../common/kernelOps.ts";
import type { KernelCall } from "./call.ts";
import { bridgeName } from "./call.ts";

export function localBridge(kernel: KernelOps): Element<KernelCall> {
  const locks = new KeyedQueue();
  const inFlight = new Map<string, number>();
  const key = (c: KernelCall) => `${c.nodeNetns}/${bridgeName(c.service.name)}`;

  const enter = (k: string) => inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
  const leave = (k: string) => {
    const n = (inFlight.get(k) ?? 1) - 1;
    if (n > 0) inFlight.set(k, n);
    else inFlight.delete(k);
  };

  /** Removes the bridge when no interface is on it and no request is about to put one there. */
  const removeIfUnused = (c: KernelCall) =>
    locks.run(key(c), async () => {
      if (inFlight.has(key(c)) || !kernel.netnsExists(c.nodeNetns)) return;
      const bridge = bridgeName(c.service.name);
      const links = await kernel.links(c.nodeNetns);
      if (links.some((l) => l.name === bridge) && !links.some((l) => l.master === bridge)) await kernel.deleteLink(bridge, c.nodeNetns);
    });

  return {
    name: "kernel/bridge",
    request: async (call, next) => {
      const k = key(call);
      enter(k);
      let left = false;
      const leaveOnce = () => {
        if (!left) leave(k);
        left = true;
      };
      try {
        const lease = call.lease!;
        await locks.run(k, () => kernel.ensureBridge(bridgeName(call.service.name), call.nodeNetns, `${lease.gateway}/${lease.prefixLen}`));
        return await passOn(
          call,
          next,
          call.refresh
            ? undefined
            : async () => {
                leaveOnce();
                await removeIfUnused(call);
              },
        );
      } finally {
        leaveOnce();
      }
    },
    close: (call, next) => passCloseOn(call, next, () => removeIfUnused(call)),
  };
}
