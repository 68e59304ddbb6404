// Gratuitous ARP in the lab's VNs, so an address that comes back with another MAC (a VM replaced by
// one with the same address, a pod interface rebuilt) is reachable again at once instead of after
// the peers' neighbour entries for the old MAC expire (30-50 s measured without this).
//
// A guest announces itself when its interface comes up (announceFromGuest). That reaches the ports
// on its own node only: a VN bridge never floods a gratuitous ARP into its VXLAN, whose port has
// neigh_suppress on. TF floods a guest's gratuitous ARP through the VN; here the vRouter of every
// other node hosting the VN sends it to its own ports (announceToLocalPorts): from a short-lived
// veth end whose peer sits on the VN bridge without learning; given the endpoint's address and then
// its MAC, that end makes the kernel send the gratuitous ARP (arp_notify); the pair is deleted
// right after.
import { bridge, deleteLink, gratuitousArp, ip, isExists, sysctl } from "../../lib/kernel/index.ts";
import { vnBridge } from "./names.ts";

/** The veth pair an announcement uses; one announcement at a time per node (kernel work is serial). */
export const ANNOUNCER = "vrgarp0";
export const ANNOUNCER_PORT = "vrgarp1";

export interface Announcement {
  networkId: number;
  ip: string;
  mac: string;
}

/** The guest's own gratuitous ARP; sent in the background (arping lingers a second after sending). */
export function announceFromGuest(netns: string, dev: string, address: string, log: (line: string) => void): void {
  void gratuitousArp(netns, dev, address).catch((e: unknown) => log(`gratuitous ARP for ${address} from ${dev} in ${netns} failed: ${String(e)}`));
}

/** Announces each endpoint to the ports of its VN bridge in `nodeNs`. */
export async function announceToLocalPorts(nodeNs: string, announcements: Announcement[]): Promise<void> {
  for (const a of announcements) {
    try {
      await announceOnce(nodeNs, a);
    } catch (e) {
      if (!isExists(e)) throw e;
      // A pair left by an announcement that was interrupted.
      await deleteLink(ANNOUNCER, nodeNs);
      await announceOnce(nodeNs, a);
    }
  }
}

async function announceOnce(nodeNs: string, a: Announcement): Promise<void> {
  try {
    await ip.batch(
      [
        ["link", "add", ANNOUNCER, "type", "veth", "peer", "name", ANNOUNCER_PORT],
        ["link", "set", ANNOUNCER_PORT, "master", vnBridge(a.networkId)],
        ["link", "set", "dev", ANNOUNCER_PORT, "type", "bridge_slave", "learning", "off"],
        ["link", "set", ANNOUNCER_PORT, "up"],
        ["link", "set", ANNOUNCER, "up"],
      ],
      nodeNs,
    );
    await sysctl.set({ [`net.ipv4.conf.${ANNOUNCER}.arp_notify`]: 1 }, nodeNs);
    // The bridge drops what arrives on a port before the carrier change has enabled it.
    await untilForwarding(nodeNs, ANNOUNCER_PORT);
    // Taking the endpoint's MAC makes the kernel announce the address (arp_notify).
    await ip.batch(
      [
        ["addr", "add", `${a.ip}/32`, "dev", ANNOUNCER],
        ["link", "set", "dev", ANNOUNCER, "address", a.mac],
      ],
      nodeNs,
    );
  } finally {
    await deleteLink(ANNOUNCER, nodeNs);
  }
}

const PORT_READY_TRIES = 50;

async function untilForwarding(nodeNs: string, port: string): Promise<void> {
  for (let i = 0; i < PORT_READY_TRIES; i++) {
    const [state] = await bridge.json<{ state?: string }>(["link", "show", "dev", port], nodeNs);
    if (state?.state === "forwarding") return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`bridge port ${port} in ${nodeNs} did not start forwarding`);
}
