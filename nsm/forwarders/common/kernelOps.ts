// The kernel operations the forwarders need, as one small interface: elements depend on it (so
// they can be tested with a fake) and `linuxKernel` implements it over lib/kernel, the only place
// that runs `ip` and the one that validates names and addresses. Each `ip` run costs ~10 ms in a
// namespace, so related changes go in one batch of lib/kernel's validated lines, and reads ask for
// the one link they need rather than listing a node that holds every connection's host end.
import {
  addressLine,
  bridgeAddLine,
  gratuitousArp,
  ip,
  isMissing,
  linkDelLine,
  linkSetLines,
  listAddresses,
  listLinks,
  netns,
  routeLine,
  showLink,
  vethAddLine,
} from "../../../lib/kernel/index.ts";
import type { LinkSettings, RouteSpec } from "../../../lib/kernel/index.ts";

export type { LinkSettings, RouteSpec };
/** Whether a kernel failure only says that the object is already there. */
export { isExists } from "../../../lib/kernel/index.ts";

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

export interface VethSide {
  name: string;
  netns: string;
  alias?: string;
  up?: boolean;
}

export interface KernelOps {
  netnsExists(name: string): boolean;
  /** The links of a namespace; with `only`, just that one (none when it is missing): no listing of a whole node. */
  links(netns: string, only?: string): Promise<LinkInfo[]>;
  /**
   * A veth pair with each end directly in its namespace; `b` gets `mac` and both `mtu`. Settings
   * given for an end are applied with it: `b` (the pod end) in the batch that creates the pair,
   * so it is never there without its alias, `a` in one more batch in its own namespace.
   */
  createVeth(a: VethSide & { master?: string }, b: VethSide & { mac?: string }, mtu?: number): Promise<void>;
  configureLink(name: string, netns: string, settings: LinkSettings): Promise<void>;
  /** A missing link (or namespace) is fine; true when there was one to delete (an implementation that cannot tell answers nothing). */
  deleteLink(name: string, netns: string): Promise<boolean | void>;
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

  async links(ns, only) {
    const found = only === undefined ? await listLinks(ns) : [await showLink(only, ns)].filter((l) => l !== undefined);
    return found.map((l) => ({
      name: l.ifname,
      ...(l.address ? { mac: l.address } : {}),
      ...(l.ifalias ? { alias: l.ifalias } : {}),
      up: l.flags.includes("UP"),
      ...(l.master ? { master: l.master } : {}),
    }));
  },

  async createVeth(a, b, mtu) {
    const m = mtu ? { mtu } : {};
    // Both batches are built (and validated) before either runs.
    const podSide = [
      vethAddLine({ name: b.name, ...m, ...(b.mac ? { mac: b.mac } : {}), ...(b.up ? { up: true } : {}) }, { name: a.name, netns: a.netns, ...m }),
      ...linkSetLines(b.name, { ...(b.alias !== undefined ? { alias: b.alias } : {}) }),
    ];
    const hostSide = linkSetLines(a.name, { ...(a.alias !== undefined ? { alias: a.alias } : {}), ...(a.master !== undefined ? { master: a.master } : {}), ...(a.up ? { up: true } : {}) });
    await ip.batch(podSide, b.netns);
    if (hostSide.length > 0) await ip.batch(hostSide, a.netns);
  },

  async configureLink(name, ns, settings) {
    await ip.batch(linkSetLines(name, settings), ns);
  },

  async deleteLink(name, ns) {
    if (!netns.exists(ns)) return false;
    try {
      await ip.batch([linkDelLine(name)], ns);
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  },

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
