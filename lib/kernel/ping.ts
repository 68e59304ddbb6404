// ping from inside a namespace, with the summary parsed (tests, bench and `lab` checks use it).
import { isIpv4 } from "../ipv4.ts";
import { assertIfName } from "../validate/names.ts";
import { KernelError, run } from "./run.ts";

export interface PingOptions {
  count?: number;
  /** Seconds between packets (ping -i); below 0.2 needs root, which the lab has. */
  interval?: number;
  /** Seconds to wait for each reply (ping -W). */
  wait?: number;
  /** Whole-run deadline in seconds (ping -w). */
  deadline?: number;
  /** Source interface or address (ping -I). */
  iface?: string;
  /** ICMP payload bytes (ping -s). */
  size?: number;
  /** Set DF and never fragment locally (ping -M do): a packet too big for the path is lost. */
  dontFragment?: boolean;
}

export interface PingResult {
  ok: boolean;
  transmitted: number;
  received: number;
  /** Round-trip times in milliseconds, when any reply came. */
  rtt?: { min: number; avg: number; max: number; mdev: number };
  output: string;
}

export function parsePing(output: string): Omit<PingResult, "ok" | "output"> {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(output);
  return {
    transmitted: counts ? Number(counts[1]) : 0,
    received: counts ? Number(counts[2]) : 0,
    ...(rtt ? { rtt: { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]), mdev: Number(rtt[4]) } } : {}),
  };
}

/** Pings `target` from `netns`; never throws for lost packets, only for a ping that could not run. */
export async function ping(netns: string, target: string, opts: PingOptions = {}): Promise<PingResult> {
  if (!isIpv4(target)) throw new KernelError(["ping", target], 2, `ping target must be an IPv4 address, got ${JSON.stringify(target)}`);
  const count = opts.count ?? 1;
  const args = ["-n", "-q", "-c", String(count), "-W", String(opts.wait ?? 1)];
  if (opts.interval !== undefined) args.push("-i", String(opts.interval));
  if (opts.deadline !== undefined) args.push("-w", String(opts.deadline));
  if (opts.size !== undefined) {
    if (!Number.isInteger(opts.size) || opts.size < 0 || opts.size > 65507) throw new KernelError(["ping", target], 2, `ping size must be 0..65507, got ${opts.size}`);
    args.push("-s", String(opts.size));
  }
  if (opts.dontFragment) args.push("-M", "do");
  if (opts.iface !== undefined) {
    if (!isIpv4(opts.iface)) assertIfName(opts.iface, "ping interface");
    args.push("-I", opts.iface);
  }
  args.push(target);
  const res = await run("ping", args, { netns, allowFail: true });
  // ping exits 1 when replies were missing and 2 on other errors (unknown interface, no route...).
  if (res.code !== 0 && res.code !== 1 && !/packets transmitted/.test(res.stdout)) {
    throw new KernelError(["ping", ...args], res.code, res.stderr || res.stdout);
  }
  const parsed = parsePing(res.stdout);
  return { ok: parsed.received > 0 && parsed.received === parsed.transmitted, ...parsed, output: res.stdout };
}
