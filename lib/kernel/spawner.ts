// Starting a program from Node forks the calling process inside the event loop, and that costs
// with the caller's memory: ~15 ms per `ip` run in a daemon of a few hundred MB, during which
// nothing else of the daemon runs. So kernel tools are started by one small helper process
// (spawnerChild.ts) that the first call starts, over Node's IPC channel; if it cannot be started,
// or TFMESH_KERNEL_SPAWNER=0, they are started directly.
import { execFile, fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isAllowedTool } from "./allowedTools.ts";

export interface Exec {
  file: string;
  args: string[];
  input?: string;
  timeoutMs: number;
}

export interface Executed {
  code: number;
  stdout: string;
  stderr: string;
  killed: boolean;
}

type Pending = (r: Executed) => void;

const CHILD = fileURLToPath(new URL(`./spawnerChild${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url));
const USE_HELPER = process.env.TFMESH_KERNEL_SPAWNER !== "0";

let helper: ChildProcess | undefined;
let helperFailed = false;
let nextId = 1;
const pending = new Map<number, Pending>();

function failAll(reason: string): void {
  for (const [id, done] of pending) {
    pending.delete(id);
    done({ code: 1, stdout: "", stderr: reason, killed: false });
  }
}

/** Keeps this process alive only while calls are out (the helper must not hold it open). */
function refWhileBusy(child: ChildProcess): void {
  if (pending.size > 0) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

function startHelper(): ChildProcess | undefined {
  if (helper || helperFailed || !USE_HELPER) return helper;
  try {
    const child = fork(CHILD, [], { execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"], serialization: "json" });
    child.on("message", (m: Executed & { id: number }) => {
      const done = pending.get(m.id);
      if (!done) return;
      pending.delete(m.id);
      done({ code: m.code, stdout: m.stdout, stderr: m.stderr, killed: m.killed });
      refWhileBusy(child);
    });
    const gone = (why: string) => {
      if (helper === child) helper = undefined;
      failAll(`the kernel tool helper process ${why}`);
    };
    child.on("error", (e) => {
      helperFailed = true;
      gone(`failed: ${e.message}`);
    });
    child.on("exit", (code, signal) => gone(`exited (${signal ?? code})`));
    helper = child;
    refWhileBusy(child);
    return child;
  } catch {
    helperFailed = true;
    return undefined;
  }
}

function direct(job: Exec): Promise<Executed> {
  return new Promise((resolve) => {
    const child = execFile(
      job.file,
      job.args,
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: job.timeoutMs, env: { ...process.env, LC_ALL: "C" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr, killed: Boolean(err && (err as { killed?: boolean }).killed) });
      },
    );
    child.stdin?.end(job.input);
  });
}

/** Runs `file args` (an absolute path run.ts resolved from its allow-list) with `input` on stdin. */
export function execute(job: Exec): Promise<Executed> {
  if (!isAllowedTool(job.file)) return Promise.resolve({ code: 126, stdout: "", stderr: `${job.file} is not an allow-listed kernel tool`, killed: false });
  const child = startHelper();
  if (!child?.connected) return direct(job);
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    refWhileBusy(child);
    child.send({ id, ...job }, (err) => {
      if (!err) return;
      pending.delete(id);
      refWhileBusy(child);
      resolve(direct(job));
    });
  });
}
