// Element: the client interface's addresses and routes, with replace semantics: the wanted address
// replaces whatever else is on the interface, routes are replaced, so a refresh converges instead
// of failing on "File exists". Both go away with the interface, so close has nothing of its own.
import type { Route } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { interfaceNameOf } from "../../mechanism.ts";
import type { KernelOps } from "./kernelOps.ts";
import type { PodCall } from "./podCall.ts";

export interface IpSpec {
  /** "a.b.c.d/len" */
  address: string;
  /** Routes to install in the pod; without nextHop they are on-link. */
  routes: Route[];
}

export function ipContext<T extends PodCall>(name: string, kernel: KernelOps, spec: (call: T) => IpSpec): Element<T> {
  return {
    name,
    request: async (call, next) => {
      const dev = interfaceNameOf(call.connection.mechanism)!;
      const { address, routes } = spec(call);
      const src = address.split("/")[0]!;
      const stale = (await kernel.addresses(dev, call.podNetns)).filter((a) => a !== address);
      await kernel.configureIp(dev, call.podNetns, {
        remove: stale,
        address,
        routes: routes.map((r) => ({ prefix: r.prefix, dev, src, ...(r.nextHop ? { via: r.nextHop } : {}) })),
      });
      return next.request(call);
    },
    close: (call, next) => next.close(call),
  };
}
