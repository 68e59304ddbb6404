// The kernel operations the forwarders need, as one small interface: elements depend on it (so
// they can be tested with a fake) and `linuxKernel` implements it over lib/kernel, the only place
// that runs `ip` and the one that validates names and addresses. Each `ip` run costs ~10 ms in a
// namespace, so related changes go in one batch of lib/kernel's validated lines.
import {
  addressLine,
  bridgeAddLine,
  createVeth,
  deleteLink,
  gratuitousArp,
  ip,
  isMissing,
  linkSetLines,
  listAddresses,
  listLinks,
  netns,
  routeLine,
  showLink,
} from "../../../lib/kernel/index.ts";
import type { LinkSettings, RouteSpec } from "../../../lib/kernel/index.ts";

export type { LinkSettings, RouteSpec };

export interface LinkInfo {
  name: string;
  mac?: string;
  alias?: string;
  up: boolean;
  /** The bridge it is enslaved to. */
  master?: string;
}

export interface IpSettings {
  /** Addresses ("a.b.c.d/len") to remove first. */
  remove: string[];
  /** The address to have (replace semantics). */
  address: string;
  /** Routes to have (replace semantics). */
  routes: RouteSpec[];
}

export interface KernelOps {
  netnsExists(name: string): boolean;
  links(netns: string): Promise<LinkInfo[]>;
  /** A veth pair with each end directly in its namespace; `b` gets `mac` and both `mtu`. */
  createVeth(a: { name: string; netns: string }, b: { name: string; netns: string; mac?: string }, mtu?: number): Promise<void>;
  configureLink(name: string, netns: string, settings: LinkSettings): Promise<void>;
  /** A missing link (or namespace) is fine. */
  deleteLink(name: string, netns: string): Promise<void>;
  /** The IPv4 addresses on a link, "a.b.c.d/len"; none when the link is missing. */
  addresses(name: string, netns: string): Promise<string[]>;
  configureIp(dev: string, netns: string, settings: IpSettings): Promise<void>;
  /** A bridge, up, with `address` on it; created unless present. */
  ensureBridge(name: string, netns: string, address: string): Promise<void>;
  /**
   * Sends a gratuitous ARP for `address` out of `dev`, in the background (the packet leaves at
   * once; the tool lingers a second). A failure is reported, never thrown: it only delays peers.
   */
  announce(dev: string, netns: string, address: string): void;
}

export const linuxKernel: KernelOps = {
  netnsExists: (name) => netns.exists(name),

  async links(ns) {
    return (await listLinks(ns)).map((l) => ({
      name: l.ifname,
      ...(l.address ? { mac: l.address } : {}),
      ...(l.ifalias ? { alias: l.ifalias } : {}),
      up: l.flags.includes("UP"),
      ...(l.master ? { master: l.master } : {}),
    }));
  },

  async createVeth(a, b, mtu) {
    await createVeth(a.name, b.name, { netnsA: a.netns, netnsB: b.netns, ...(b.mac ? { macB: b.mac } : {}), ...(mtu ? { mtu } : {}) });
  },

  async configureLink(name, ns, settings) {
    await ip.batch(linkSetLines(name, settings), ns);
  },

  deleteLink: (name, ns) => deleteLink(name, ns),

  async addresses(name, ns) {
    try {
      return (await listAddresses(ns, name)).flatMap((a) => a.addr_info.filter((i) => i.family === "inet").map((i) => `${i.local}/${i.prefixlen}`));
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
  },

  async configureIp(dev, ns, s) {
    await ip.batch([...s.remove.map((a) => addressLine("del", dev, a)), addressLine("replace", dev, s.address), ...s.routes.map((r) => routeLine("replace", r))], ns);
  },

  announce(dev, ns, address) {
    void gratuitousArp(ns, dev, address).catch((e: unknown) =>
      process.stderr.write(`nsm: gratuitous ARP for ${address} on ${dev} in ${ns} failed: ${e instanceof Error ? e.message : String(e)}\n`),
    );
  },

  async ensureBridge(name, ns, address) {
    const exists = (await showLink(name, ns)) !== undefined;
    await ip.batch([...(exists ? [] : [bridgeAddLine(name)]), ...linkSetLines(name, { up: true }), addressLine("replace", name, address)], ns);
  },
};
