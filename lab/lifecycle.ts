// Starting, finding, stopping and wiping a lab daemon from outside it (the CLI and the test fixture).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import { NSMGR_GID } from "./spire/identities.ts";
import path from "node:path";
import { HttpClient } from "../lib/http/client.ts";
import { processAlive } from "../lib/processes.ts";
import * as netns from "../lib/kernel/netns.ts";
import type { LabInstanceConfig } from "./instance.ts";
import { labToken } from "./keystoneSession.ts";
import { logPath } from "./log.ts";

const PID_FILE = "daemon.pid";
// The daemon beside this module: daemon.ts in the checkout, daemon.js in the built package.
const DAEMON_FILE = `daemon${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`;
const DAEMON_SCRIPT = new URL(`./${DAEMON_FILE}`, import.meta.url).pathname;

export interface LabHealth {
  status: "starting" | "ok" | "stopping";
  /** What the daemon is doing right now, for progress output. */
  phase: string;
  instance: string;
  prefix: string;
  pid: number;
  startedAt: string;
  readyAt?: string;
}

export function pidPath(stateDir: string): string {
  return path.join(stateDir, PID_FILE);
}

export { processAlive };

/** The pid of the daemon serving stateDir, if one is alive (a stale pid file or a reused pid does not count). */
export function runningDaemonPid(stateDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(pidPath(stateDir), "utf8").trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (!argv.some((a) => /(^|\/)daemon\.[jt]s$/.test(a))) return undefined;
    const i = argv.indexOf("--state-dir");
    if (i >= 0 && path.resolve(argv[i + 1] ?? "") !== path.resolve(stateDir)) return undefined;
  } catch {
    // No /proc entry readable: trust the pid file.
  }
  return pid;
}

/** What /lab/health shows a caller: everything with a valid token (or auth "noauth"), else the status only. */
export type SeenHealth = Pick<LabHealth, "status"> & Partial<LabHealth>;

/**
 * The daemon's health; with `token`, as much as a credential shows. A token that cannot be had
 * (Keystone listens only after the lab API port) leaves the status alone.
 */
export async function fetchHealth(config: LabInstanceConfig, opts: { timeoutMs?: number; token?: () => Promise<string> } = {}): Promise<SeenHealth | undefined> {
  const client = new HttpClient({ baseUrl: `http://127.0.0.1:${config.ports.lab}`, retries: 0, timeoutMs: opts.timeoutMs ?? 2000 });
  let headers: Record<string, string> = {};
  try {
    if (opts.token) headers = { "x-auth-token": await opts.token() };
  } catch {
    // no token yet: the probe answers without one
  }
  try {
    return (await client.get<SeenHealth>("/lab/health", { headers })).body;
  } catch {
    return undefined;
  }
}

export interface SpawnOptions {
  /** Run in its own session so it outlives the caller (`lab up`). */
  detached?: boolean;
  /** Stop and wipe the instance when this process dies: test labs never outlive their test. */
  exitWithParent?: number;
}

export function spawnDaemon(config: LabInstanceConfig, opts: SpawnOptions = {}): ChildProcess {
  fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const args = [DAEMON_SCRIPT, "--state-dir", config.stateDir];
  if (opts.exitWithParent !== undefined) args.push("--exit-with-parent", String(opts.exitWithParent));
  // Output the daemon writes before its own log is up (a crash at import) still lands in daemon.log.
  const out = fs.openSync(logPath(config.stateDir), "a");
  try {
    // Group NSMGR_GID (uid stays root): the lab's SPIRE gives the daemon, the NSMgr, its own SPIFFE ID by it.
    const child = spawn(process.execPath, args, { cwd: config.stateDir, detached: opts.detached ?? false, stdio: ["ignore", out, out], gid: NSMGR_GID });
    if (opts.detached) child.unref();
    return child;
  } finally {
    fs.closeSync(out);
  }
}

/** The end of daemon.log, from byte `from` on (what one start wrote), without stack frames. */
function logTail(stateDir: string, lines = 20, from = 0): string {
  try {
    const text = fs.readFileSync(logPath(stateDir)).subarray(from).toString("utf8");
    const kept = text.trimEnd().split("\n").filter((l) => !/^(\S+ \[\d+\])?\s+at /.test(l));
    return kept.slice(-lines).join("\n") || "(nothing logged)";
  } catch {
    return "(no daemon.log)";
  }
}

/** Where daemon.log ends now: pass it to waitHealthy to show only what the next start logs. */
export function logSize(stateDir: string): number {
  try {
    return fs.statSync(logPath(stateDir)).size;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the daemon answers healthy. Fails early, with the end of its log, when the daemon
 * process is gone.
 */
export async function waitHealthy(
  config: LabInstanceConfig,
  { pid, timeoutMs = 180_000, onPhase, logFrom = 0 }: { pid?: number; timeoutMs?: number; onPhase?: (phase: string) => void; logFrom?: number } = {},
): Promise<SeenHealth> {
  const deadline = Date.now() + timeoutMs;
  let lastPhase = "";
  // Which daemon answers and what it is doing shows only to a caller with a token.
  const token = labToken(config, { retries: 0, timeoutMs: 2000 });
  for (;;) {
    const health = await fetchHealth(config, token ? { token } : {});
    if (health && (pid === undefined || health.pid === pid)) {
      if (health.phase !== undefined && health.phase !== lastPhase) {
        lastPhase = health.phase;
        onPhase?.(health.phase);
      }
      if (health.status === "ok") return health;
    }
    const alive = pid !== undefined ? processAlive(pid) : runningDaemonPid(config.stateDir) !== undefined;
    if (!alive) {
      throw new Error(`the lab daemon for instance ${config.name} exited before it became healthy; it logged (${logPath(config.stateDir)}):\n${logTail(config.stateDir, 20, logFrom)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`the lab daemon for instance ${config.name} did not become healthy within ${timeoutMs / 1000}s (last phase: ${lastPhase || "none"}); it logged:\n${logTail(config.stateDir, 20, logFrom)}`);
    }
    await sleep(100);
  }
}

/** SIGTERM, then wait; SIGKILL after the grace period. Resolves false when nothing was running. */
export async function stopDaemon(stateDir: string, graceMs = 30_000): Promise<boolean> {
  const pid = runningDaemonPid(stateDir);
  if (pid === undefined) return false;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (processAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, "SIGKILL");
      await sleep(200);
      break;
    }
    await sleep(50);
  }
  return true;
}

/** Removes every kernel object of the prefix: all of them live in "<prefix>-*" namespaces. */
export async function wipeKernel(prefix: string): Promise<string[]> {
  const names = netns.list(`${prefix}-`);
  for (const name of names) await netns.del(name);
  return names;
}
