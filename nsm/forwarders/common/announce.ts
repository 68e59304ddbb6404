// Element: the client announces its address once its interface has it (a gratuitous ARP, as a host
// does when an address comes up), so peers that still hold another MAC for that address (an earlier
// interface that had it) switch at once instead of after their neighbour entry expires. It announces
// when the rest of the chain has answered, so it may sit above elements that must be done first (the
// address set, the port carrying traffic). Nothing to undo on close.
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { clientNetnsOf, interfaceOf, srcIpOf } from "../../connection.ts";
import type { KernelOps } from "./kernelOps.ts";

export function announce(name: string, kernel: KernelOps): Element<Connection> {
  return {
    name,
    request: async (c, next) => {
      const out = await next.request(c);
      const dev = interfaceOf(out);
      const ip = srcIpOf(out);
      if (dev && ip) kernel.announce(dev, clientNetnsOf(out), ip);
      return out;
    },
    close: (c, next) => next.close(c),
  };
}
