// Element: the client announces its address once its interface has it (a gratuitous ARP, as a host
// does when an address comes up), so peers that still hold another MAC for that address (an earlier
// interface that had it) switch at once instead of after their neighbour entry expires. Nothing to
// undo on close.
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { clientNetnsOf, interfaceOf, srcIpOf } from "../../connection.ts";
import type { KernelOps } from "./kernelOps.ts";

export function announce(name: string, kernel: KernelOps): Element<Connection> {
  return {
    name,
    request: (c, next) => {
      const dev = interfaceOf(c);
      const ip = srcIpOf(c);
      if (dev && ip) kernel.announce(dev, clientNetnsOf(c), ip);
      return next.request(c);
    },
    close: (c, next) => next.close(c),
  };
}
