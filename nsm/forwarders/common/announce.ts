// Element: the client announces its address once its interface has it (a gratuitous ARP, as a host
// does when an address comes up), so peers that still hold another MAC for that address (an earlier
// interface that had it) switch at once instead of after their neighbour entry expires. Nothing to
// undo on close.
import type { Element } from "../../chain.ts";
import { interfaceNameOf } from "../../mechanism.ts";
import type { KernelOps } from "./kernelOps.ts";
import type { PodCall } from "./podCall.ts";

export function announce<T extends PodCall>(name: string, kernel: KernelOps, address: (call: T) => string): Element<T> {
  return {
    name,
    request: (call, next) => {
      kernel.announce(interfaceNameOf(call.connection.mechanism)!, call.podNetns, address(call));
      return next.request(call);
    },
    close: (call, next) => next.close(call),
  };
}
