// Long-running child programs a lab supervises (the Kubernetes control plane, SPIRE): each runs
// in a directory of its own, under `setpriv --pdeathsig` where available so that a supervisor that
// dies (however it dies) takes them with it, logs to a file, and is found again by that directory
// when a killed supervisor left it running.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { processAlive as alive, processes } from "./processes.ts";

export interface Child {
  name: string;
  child: ChildProcess;
  /** Resolves when it has exited (or could not start). */
  exited: Promise<void>;
  /** Set once it exited: its exit code, null after a signal, -1 when it could not start. */
  exitCode?: number | null;
}

export interface StartChildOptions {
  name: string;
  bin: string;
  args: readonly string[];
  cwd: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  log: (line: string) => void;
  /** Extra environment variables (the rest is inherited). */
  env?: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function havePdeathsig(): boolean {
  return fs.existsSync("/usr/bin/setpriv") || fs.existsSync("/bin/setpriv");
}

export function startChild(o: StartChildOptions): Child {
  const out = fs.openSync(o.logFile, "a");
  try {
    // pdeathsig: the kernel sends SIGTERM when the supervisor dies, however it dies.
    const [cmd, argv] = havePdeathsig() ? ["setpriv", ["--pdeathsig", "SIGTERM", "--", o.bin, ...o.args]] : [o.bin, [...o.args]];
    const child = spawn(cmd as string, argv as string[], { stdio: ["ignore", out, out], cwd: o.cwd, ...(o.env ? { env: { ...process.env, ...o.env } } : {}) });
    const r: Child = { name: o.name, child, exited: Promise.resolve() };
    r.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        r.exitCode = code;
        o.log(`${o.name} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`);
        resolve();
      });
      child.once("error", (e) => {
        r.exitCode = -1;
        o.log(`${o.name}: cannot start ${o.bin}: ${e.message}`);
        resolve();
      });
    });
    return r;
  } finally {
    fs.closeSync(out);
  }
}

/** SIGTERM, and SIGKILL when it has not exited after graceMs. */
export async function stopChild(r: Child, log: (line: string) => void, graceMs = 15_000): Promise<void> {
  if (r.exitCode !== undefined) return;
  r.child.kill("SIGTERM");
  const late = await Promise.race([r.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (late) {
    log(`${r.name} did not stop within ${graceMs / 1000} s of SIGTERM: SIGKILL`);
    r.child.kill("SIGKILL");
    await r.exited;
  }
}

/**
 * What a killed supervisor left running in `dir`: its children got SIGTERM (pdeathsig) but may still
 * be shutting down and holding their ports, or, without setpriv, run on. Nothing else runs in such a
 * directory: SIGTERM, then SIGKILL after 10 s.
 */
export async function stopProcessesIn(dir: string, log: (line: string) => void): Promise<void> {
  const resolved = path.resolve(dir);
  const left = processes().filter((p) => p.cwd === resolved && p.pid !== process.pid);
  if (left.length === 0) return;
  log(`stopping what a previous start left running in ${resolved}: pids ${left.map((p) => p.pid).join(", ")}`);
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  };
  for (const p of left) signal(p.pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (left.some((p) => alive(p.pid)) && Date.now() < deadline) await sleep(100);
  for (const p of left) if (alive(p.pid)) signal(p.pid, "SIGKILL");
  // A SIGKILLed process is gone once reaped; its ports are free already.
  for (const until = Date.now() + 5000; left.some((p) => alive(p.pid)) && Date.now() < until; ) await sleep(50);
}

/** The last lines of a log file, or "(no log)". */
export function logTail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
