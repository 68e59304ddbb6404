// Element: the client interface's address and routes, as the connection's ip_context has them
// (src_ip_addrs and src_routes, written by whichever element allocated them: TF's instance-ip, the
// kernel forwarder's IPAM). Replace semantics: the wanted address replaces whatever else is on the
// interface, routes are replaced, so a heal converges instead of failing on "File exists" (only a
// heal reads what is there: a first request comes after podVeth built the interface anew). Both go
// away with the interface, so close has nothing of its own. Check: the address is on the interface.
import type { Connection } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import { checkThenPassOn } from "../../chain.ts";
import { clientNetnsOf, interfaceOf, isHeal, srcAddressOf } from "../../connection.ts";
import type { KernelOps } from "./kernelOps.ts";

/** The interface and the address the context wants on it; throws when an earlier element left them out. */
function wanted(c: Connection): { dev: string; netns: string; address: string } {
  const dev = interfaceOf(c);
  const address = srcAddressOf(c);
  if (!dev || !address) throw new Error(`connection ${c.id} has no ${dev ? "address (ip_context.src_ip_addrs)" : "interface name"} to configure`);
  return { dev, netns: clientNetnsOf(c), address };
}

export function ipContext(name: string, kernel: KernelOps): Element<Connection> {
  return {
    name,
    request: async (c, next) => {
      const { dev, netns, address } = wanted(c);
      const src = address.split("/")[0] ?? address;
      // A first request finds the interface podVeth has just created, which has no address yet.
      const stale = isHeal(c) ? (await kernel.addresses(dev, netns)).filter((a) => a !== address) : [];
      await kernel.configureIp(dev, netns, {
        remove: stale,
        address,
        routes: (c.context?.ip_context?.src_routes ?? []).map((r) => ({ dst: r.prefix, dev, src, ...(r.nextHop ? { via: r.nextHop } : { scope: "link" as const }) })),
      });
      return next.request(c);
    },
    close: (c, next) => next.close(c),
    check: (c, next) =>
      checkThenPassOn(c, next, async () => {
        const { dev, netns, address } = wanted(c);
        return (await kernel.addresses(dev, netns)).includes(address) ? undefined : `interface ${dev} in ${netns} lacks its address ${address}`;
      }),
  };
}
