// The kernel operations the forwarders need, as one small interface: elements depend on it (so
// they can be tested with a fake) and `linuxKernel` implements it over lib/kernel, the only place
// that runs `ip`.
import * as ip from "../../../lib/kernel/ip.ts";
import * as netns from "../../../lib/kernel/netns.ts";
import { isExists, isMissing, run } from "../../../lib/kernel/run.ts";

export interface LinkInfo {
  name: string;
  mac?: string;
  alias?: string;
  mtu?: number;
  up: boolean;
  /** The bridge it is enslaved to. */
  master?: string;
  kind?: string;
}

export interface LinkSettings {
  mac?: string;
  alias?: string;
  mtu?: number;
  master?: string;
  up?: boolean;
}

export interface RouteSpec {
  prefix: string;
  dev: string;
  via?: string;
  src?: string;
}

export interface KernelOps {
  netnsExists(name: string): boolean;
  links(netns: string): Promise<LinkInfo[]>;
  /** A veth pair with one end in each namespace (created there directly, so names only clash there). */
  createVeth(a: { name: string; netns: string }, b: { name: string; netns: string }): Promise<void>;
  configureLink(name: string, netns: string, settings: LinkSettings): Promise<void>;
  /** A missing link (or namespace) is fine. */
  deleteLink(name: string, netns: string): Promise<void>;
  /** The IPv4 addresses on a link, "a.b.c.d/len". */
  addresses(name: string, netns: string): Promise<string[]>;
  replaceAddress(name: string, cidr: string, netns: string): Promise<void>;
  deleteAddress(name: string, cidr: string, netns: string): Promise<void>;
  replaceRoute(route: RouteSpec, netns: string): Promise<void>;
  /** A bridge (created unless present) with the given settings. */
  ensureBridge(name: string, netns: string, settings: LinkSettings): Promise<void>;
}

interface IpLink {
  ifname: string;
  address?: string;
  ifalias?: string;
  mtu?: number;
  flags?: string[];
  master?: string;
  linkinfo?: { info_kind?: string };
}

interface IpAddr {
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

function linkArgs(name: string, s: LinkSettings): string[][] {
  const lines: string[][] = [];
  if (s.mac !== undefined) lines.push(["link", "set", "dev", name, "address", s.mac]);
  if (s.mtu !== undefined) lines.push(["link", "set", "dev", name, "mtu", String(s.mtu)]);
  if (s.alias !== undefined) lines.push(["link", "set", "dev", name, "alias", s.alias]);
  if (s.master !== undefined) lines.push(["link", "set", "dev", name, "master", s.master]);
  if (s.up) lines.push(["link", "set", "dev", name, "up"]);
  return lines;
}

export const linuxKernel: KernelOps = {
  netnsExists: (name) => netns.exists(name),

  async links(ns) {
    const rows = await ip.json<IpLink>(["-details", "link", "show"], ns);
    return rows.map((r) => ({
      name: r.ifname,
      ...(r.address ? { mac: r.address } : {}),
      ...(r.ifalias ? { alias: r.ifalias } : {}),
      ...(r.mtu ? { mtu: r.mtu } : {}),
      up: (r.flags ?? []).includes("UP"),
      ...(r.master ? { master: r.master } : {}),
      ...(r.linkinfo?.info_kind ? { kind: r.linkinfo.info_kind } : {}),
    }));
  },

  async createVeth(a, b) {
    await run("ip", ["link", "add", a.name, "type", "veth", "peer", "name", b.name, "netns", b.netns], { netns: a.netns });
  },

  async configureLink(name, ns, settings) {
    const lines = linkArgs(name, settings);
    if (lines.length) await ip.batch(lines, ns);
  },

  async deleteLink(name, ns) {
    if (!netns.exists(ns)) return;
    try {
      await run("ip", ["link", "del", "dev", name], { netns: ns });
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  },

  async addresses(name, ns) {
    const rows = await ip.json<IpAddr>(["-4", "addr", "show", "dev", name], ns);
    return rows.flatMap((r) => (r.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`));
  },

  async replaceAddress(name, cidr, ns) {
    await run("ip", ["addr", "replace", cidr, "dev", name], { netns: ns });
  },

  async deleteAddress(name, cidr, ns) {
    try {
      await run("ip", ["addr", "del", cidr, "dev", name], { netns: ns });
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  },

  async replaceRoute(r, ns) {
    const args = ["route", "replace", r.prefix];
    if (r.via) args.push("via", r.via);
    args.push("dev", r.dev);
    if (!r.via) args.push("scope", "link");
    if (r.src) args.push("src", r.src);
    await run("ip", args, { netns: ns });
  },

  async ensureBridge(name, ns, settings) {
    try {
      await run("ip", ["link", "add", name, "type", "bridge"], { netns: ns });
    } catch (e) {
      if (!isExists(e)) throw e;
    }
    await linuxKernel.configureLink(name, ns, settings);
  },
};
