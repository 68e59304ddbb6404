// `bridge`: forwarding database, port flags, and batches of both.
import { runBatch } from "./batch.ts";
import type { BatchOptions } from "./batch.ts";
import { parseJsonList } from "./ip.ts";
import { assertIfName } from "../validate/names.ts";
import { run } from "./run.ts";

export interface FdbEntry {
  mac: string;
  ifname?: string;
  dst?: string;
  master?: string;
  flags: string[];
  state?: string;
}

/** `bridge -json <args>` parsed. */
export async function json<T = Record<string, unknown>>(args: string[], netns?: string): Promise<T[]> {
  const { stdout } = await run("bridge", ["-json", ...args], { netns });
  return parseJsonList<T>(stdout);
}

/** `bridge -batch -`: every line one `bridge` command without the leading "bridge". */
export async function batch(lines: string[][], netns?: string, opts: BatchOptions = {}): Promise<void> {
  await runBatch("bridge", lines, netns, opts);
}

/** The fdb of one port device (both its bridge entries and, for VXLAN, its own remote entries). */
export async function fdbOfDevice(dev: string, netns?: string): Promise<FdbEntry[]> {
  assertIfName(dev);
  const rows = await json<FdbEntry>(["fdb", "show", "dev", dev], netns);
  return rows.map((r) => ({ ...r, ifname: r.ifname ?? dev, flags: r.flags ?? [] }));
}

export interface PortFlags {
  neighSuppress?: boolean;
  learning?: boolean;
  flood?: boolean;
}

export async function setPortFlags(dev: string, flags: PortFlags, netns?: string): Promise<void> {
  assertIfName(dev);
  const args = ["link", "set", "dev", dev];
  const onOff = (b: boolean) => (b ? "on" : "off");
  if (flags.neighSuppress !== undefined) args.push("neigh_suppress", onOff(flags.neighSuppress));
  if (flags.learning !== undefined) args.push("learning", onOff(flags.learning));
  if (flags.flood !== undefined) args.push("flood", onOff(flags.flood));
  await run("bridge", args, { netns });
}
