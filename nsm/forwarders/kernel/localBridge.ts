// Element: the service's bridge on the client's node (nsk-<hash>), with the gateway address on it.
// Pods of one service on one node meet on it. The last connection to leave removes it; the bridge
// is locked from "ensure" until the interface is enslaved, so a close cannot remove it in between.
import type { Element } from "../../chain.ts";
import { passCloseOn, passOn, Serializer } from "../../chain.ts";
import type { KernelOps } from "../common/kernelOps.ts";
import type { KernelCall } from "./call.ts";
import { bridgeName } from "./call.ts";

export function localBridge(kernel: KernelOps): Element<KernelCall> {
  const locks = new Serializer();
  const key = (c: KernelCall) => `${c.nodeNetns}/${bridgeName(c.service.name)}`;

  const removeIfUnused = async (c: KernelCall) => {
    if (!kernel.netnsExists(c.nodeNetns)) return;
    const bridge = bridgeName(c.service.name);
    const links = await kernel.links(c.nodeNetns);
    if (links.some((l) => l.name === bridge) && !links.some((l) => l.master === bridge)) await kernel.deleteLink(bridge, c.nodeNetns);
  };

  return {
    name: "kernel/bridge",
    request: (call, next) =>
      locks.run(key(call), async () => {
        const bridge = bridgeName(call.service.name);
        const lease = call.lease!;
        await kernel.ensureBridge(bridge, call.nodeNetns, `${lease.gateway}/${lease.prefixLen}`);
        return passOn(call, next, call.refresh ? undefined : () => removeIfUnused(call));
      }),
    close: (call, next) => locks.run(key(call), () => passCloseOn(call, next, () => removeIfUnused(call))),
  };
}
