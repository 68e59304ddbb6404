// Gratuitous ARP: what a host sends when an address comes up on an interface, so that neighbours
// holding another MAC for that address (a replaced VM, a re-created pod interface) switch at once
// instead of after their neighbour entry times out.
import { isIpv4 } from "../ipv4.ts";
import { assertIfName } from "../validate/names.ts";
import { KernelError, run } from "./run.ts";

/**
 * Sends one unsolicited ARP request for `address` out of `dev` in `netns` (iputils `arping -U`).
 * The packet leaves at once; arping itself exits about a second later (it waits a full interval),
 * so callers that only need the packet sent do not wait for the returned promise.
 */
export async function gratuitousArp(netns: string, dev: string, address: string): Promise<void> {
  assertIfName(dev);
  if (!isIpv4(address)) throw new KernelError(["arping", address], 2, `not an IPv4 address: ${JSON.stringify(address)}`);
  await run("arping", ["-U", "-c", "1", "-I", dev, address], { netns });
}
