// Named network namespaces (the files under /var/run/netns that `ip netns` manages).
import fs from "node:fs";
import { assertNetnsName } from "../validate/names.ts";
import { isExists, isMissing, KernelError, isProgram, run } from "./run.ts";
import type { RunOptions, RunResult } from "./run.ts";

export const NETNS_DIR = "/var/run/netns";

export function exists(name: string): boolean {
  assertNetnsName(name);
  return fs.existsSync(`${NETNS_DIR}/${name}`);
}

/** Creates the namespace (with its loopback up) unless it exists; says whether it created it. */
export async function add(name: string): Promise<boolean> {
  assertNetnsName(name);
  if (exists(name)) return false;
  try {
    await run("ip", ["netns", "add", name]);
  } catch (e) {
    if (!isExists(e)) throw e;
    return false;
  }
  await run("ip", ["link", "set", "dev", "lo", "up"], { netns: name });
  return true;
}

/** Removes the namespace; a missing one is fine. Interfaces in it go with it (veth peers too). */
export async function del(name: string): Promise<void> {
  assertNetnsName(name);
  if (!exists(name)) return;
  try {
    await run("ip", ["netns", "del", name]);
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
}

/** Names of the namespaces starting with `prefix` (all when omitted), sorted. */
export function list(prefix = ""): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(NETNS_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return names.filter((n) => n.startsWith(prefix)).sort();
}

/** Runs an allow-listed program inside the namespace, e.g. exec(ns, ["ping", "-c", "1", "10.1.1.3"]). */
export async function exec(name: string, argv: string[], opts: Omit<RunOptions, "netns"> = {}): Promise<RunResult> {
  assertNetnsName(name);
  const [cmd, ...args] = argv;
  if (cmd === undefined || !isProgram(cmd)) throw new KernelError(argv, 2, `program ${JSON.stringify(cmd)} is not on the kernel allow-list`);
  return run(cmd, args, { ...opts, netns: name });
}
