// Named network namespaces (the files under /var/run/netns that `ip netns` manages).
import { spawn as spawnChild } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import { constants as osConstants } from "node:os";
import { assertNetnsName } from "../validate/names.ts";
import { isExists, isMissing, KernelError, isProgram, run } from "./run.ts";
import type { RunOptions, RunResult } from "./run.ts";
import { closeSessions } from "./session.ts";

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

/** Names the network namespace of process `pid` (`ip netns attach`); a name already there is fine when it is that namespace. */
export async function attach(name: string, pid: number): Promise<void> {
  assertNetnsName(name);
  if (!Number.isInteger(pid) || pid <= 0) throw new KernelError(["ip", "netns", "attach", name, String(pid)], 2, `pid must be a positive integer, got ${pid}`);
  if (exists(name)) {
    const a = fs.statSync(`${NETNS_DIR}/${name}`);
    const b = fs.statSync(`/proc/${pid}/ns/net`);
    if (a.dev === b.dev && a.ino === b.ino) return;
    throw new KernelError(["ip", "netns", "attach", name, String(pid)], 1, `network namespace ${name} exists and is another namespace`);
  }
  await run("ip", ["netns", "attach", name, String(pid)]);
}

/** Removes the namespace; a missing one is fine. Interfaces in it go with it (veth peers too). */
export async function del(name: string): Promise<void> {
  assertNetnsName(name);
  // A session's process would keep the namespace (and every interface in it) alive.
  await closeSessions(name);
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

export interface SpawnOptions {
  /** "inherit" (default): the program shares this process's terminal; "pipe": the caller reads child.stdout/stderr. */
  stdio?: "inherit" | "pipe";
  /** Called with the child right after it started (e.g. to read piped output). */
  onSpawn?: (child: ChildProcess) => void;
}

// `ip` lives in sbin, which a non-login PATH may lack.
const IP_PATHS = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];

/**
 * Runs ANY program inside the namespace with `ip netns exec` — the operator's own command line for
 * `lab exec`, never the lab's internal work (that goes through `exec` and its allow-list). The argv
 * is handed over as an array, never to a shell. Resolves with the program's exit code (128 + signal
 * number when a signal ended it). Ctrl-C reaches the program through the terminal, so this process
 * ignores SIGINT/SIGQUIT while it runs and forwards SIGTERM/SIGHUP to it.
 */
export async function spawn(name: string, argv: string[], opts: SpawnOptions = {}): Promise<number> {
  assertNetnsName(name);
  if (argv.length === 0 || argv[0] === "") throw new KernelError(["ip", "netns", "exec", name], 2, "no program to run");
  if (!exists(name)) throw new KernelError(["ip", "netns", "exec", name, ...argv], 1, `network namespace ${name} does not exist`);
  const ipPath = IP_PATHS.find((p) => fs.existsSync(p));
  if (!ipPath) throw new KernelError(["ip"], 127, "ip is not installed (apt-get install iproute2)");
  return new Promise((resolve, reject) => {
    const child = spawnChild(ipPath, ["netns", "exec", name, ...argv], { stdio: opts.stdio ?? "inherit" });
    const ignore = () => {};
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const handlers: Array<[NodeJS.Signals, (s: NodeJS.Signals) => void]> = [
      ["SIGINT", ignore],
      ["SIGQUIT", ignore],
      ["SIGTERM", forward],
      ["SIGHUP", forward],
    ];
    for (const [s, h] of handlers) process.on(s, h);
    const cleanup = () => {
      for (const [s, h] of handlers) process.off(s, h);
    };
    child.once("error", (e) => {
      cleanup();
      reject(new KernelError(["ip", "netns", "exec", name, ...argv], 127, e.message));
    });
    child.once("close", (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    });
    opts.onSpawn?.(child);
  });
}
