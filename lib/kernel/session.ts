// Long-lived `ip -json -batch -` and `bridge -json -batch -` processes, one per program and
// namespace, for the namespaces a process writes to again and again for as long as it runs (a
// lab's nodes, a forwarder's own node): a batch is written to the process's stdin instead of
// starting a process for it, which costs 3-10 ms on these machines and was most of what a port
// plug cost. Namespaces opt in with keepSessions; every other batch starts its own process.
//
// Each batch is followed by a marker line (`link show dev lo`, `fdb show dev lo`: every namespace
// has a loopback, and the tool prints and flushes one JSON line for it), so the marker's line on
// stdout says the batch is done. One batch is in a process at a time. Without -force the tool
// stops at the first failing line and exits, as a batch process of its own would: the batch fails
// with what the tool said, lines after the failing one are not run, and the next batch starts a
// new process. A session holds its namespace open, so netns.del closes the namespace's sessions first.
//
// The tools remember each interface name's index once they looked it up, and never forget it: a
// link deleted and made again under its name is then addressed by its old index, which no link
// has any more (the kernel hands indexes out cyclically), and the line fails ("Cannot find device",
// "unknown ifindex"). So a failing batch ends every session of the namespace, the lines from one
// that failed on a missing device run again in a new process (which looks every name up afresh),
// and callers that must not trust any earlier view (a convergence from a read of the node) ask for
// a process of their own. Starting a session costs a fork of the calling process, so it is not
// done for every batch that deletes a link: that would be every Close.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createInterface } from "node:readline";
import { KernelError } from "./run.ts";
import type { RunResult } from "./run.ts";

export type SessionProgram = "ip" | "bridge";

const NETNS_DIR = "/var/run/netns";

/** What the tools say when an interface name's index they remember is gone. */
const STALE_NAME = /Cannot find device|Device not found|unknown ifindex|No such device|does not exist/i;

/** The job of the lines from the `failedAt`th (1-based) on, answering to the same caller. */
function retryFrom(job: Job, failedAt: number): Job {
  return { ...job, lines: job.lines.slice(failedAt - 1), lineOffset: job.lineOffset + failedAt - 1, retried: true };
}

const MARKER: Record<SessionProgram, string> = { ip: "link show dev lo", bridge: "fdb show dev lo" };

interface Job {
  /** Checked by the caller (batch.ts batchText), so joined as they are. */
  lines: string[][];
  /** The batch as the caller gave it, for errors: a retry runs only its lines from the failed one. */
  callerInput: string;
  /** Lines of the caller's batch before this job's first (a retry's). */
  lineOffset: number;
  retried: boolean;
  timeoutMs: number;
  resolve: (r: RunResult) => void;
  reject: (e: unknown) => void;
}

/** Lines a job prints on stdout: one JSON line per show command, then the marker's. */
const outputLinesOf = (job: Job) => job.lines.filter((l) => l[1] === "show").length + 1;

interface Started {
  file: string;
  argv: string[];
}

class Session {
  private child: ChildProcess | undefined;
  private readonly queue: Job[] = [];
  private running: (Job & { firstLine: number; outputLines: number; stdout: string[]; stderr: string; timer: NodeJS.Timeout }) | undefined;
  /** Lines written to the current process so far (the tool numbers them across batches). */
  private linesWritten = 0;
  private closed = false;

  private readonly start: Started;
  /** Ends every session of the namespace: what they remember of its links may be out of date. */
  private readonly forgetNamespace: () => void;

  /** The namespace this session's processes run in (namespaceIdentity when it was made). */
  readonly namespace: string;

  constructor(start: Started, namespace: string, forgetNamespace: () => void) {
    this.start = start;
    this.namespace = namespace;
    this.forgetNamespace = forgetNamespace;
  }

  /** Takes over batches another session of the same tool and namespace had queued. */
  adopt(jobs: Job[]): void {
    this.queue.push(...jobs);
    this.next();
  }

  run(lines: string[][], input: string, timeoutMs: number): Promise<RunResult> {
    if (this.closed) return Promise.reject(new KernelError(this.start.argv, 1, "the session was closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ lines, callerInput: input, lineOffset: 0, retried: false, timeoutMs, resolve, reject });
      this.next();
    });
  }

  /** Batches queued and not yet written, for the session that takes over. */
  takeQueue(): Job[] {
    return this.queue.splice(0);
  }

  /** Ends the process (stdin closed, then SIGKILL if it lingers) and fails what is queued. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new KernelError(this.start.argv, 1, "the session was closed"));
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), 1000);
      child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      child.stdin?.end();
    });
  }

  private next(): void {
    if (this.running || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    const child = this.child ?? this.spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), job.timeoutMs);
    this.running = { ...job, firstLine: this.linesWritten + 1, outputLines: outputLinesOf(job), stdout: [], stderr: "", timer };
    this.linesWritten += job.lines.length + 1;
    this.hold(true);
    child.stdin!.write(`${[...job.lines.map((l) => l.join(" ")), MARKER[this.programName()]].join("\n")}\n`);
  }

  started(): Started {
    return this.start;
  }

  private programName(): SessionProgram {
    return this.start.argv[0] as SessionProgram;
  }

  private spawn(): ChildProcess {
    const child = spawn(this.start.file, this.start.argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    this.child = child;
    this.linesWritten = 0;
    child.stdin!.on("error", () => {});
    createInterface({ input: child.stdout! }).on("line", (line) => this.onLine(line));
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      if (this.running) this.running.stderr += text;
    });
    const gone = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.child === child) this.child = undefined;
      const job = this.running;
      this.running = undefined;
      this.hold(false);
      if (job) {
        clearTimeout(job.timer);
        const failedAt = Number(/Command failed -:(\d+)/.exec(job.stderr)?.[1] ?? NaN) - job.firstLine + 1;
        const retry = !signal && !job.retried && STALE_NAME.test(job.stderr) && failedAt >= 1 && failedAt <= job.lines.length ? retryFrom(job, failedAt) : undefined;
        if (retry) {
          // Perhaps a name this process looked up before was deleted and made again: the lines
          // from the failed one run again in a new process, which looks every name up afresh.
          this.queue.unshift(retry);
        } else {
          const said = job.stderr.replace(/Command failed -:(\d+)/g, (_, n: string) => `Command failed -:${Number(n) - job.firstLine + 1 + job.lineOffset}`);
          job.reject(new KernelError(this.start.argv, code ?? 1, signal ? `${said}\n(killed: ${signal}, after ${job.timeoutMs} ms at most)` : said, job.callerInput));
        }
        this.forgetNamespace();
      }
      this.next();
    };
    child.once("exit", gone);
    child.once("error", () => {
      child.removeListener("exit", gone);
      gone(1, null);
    });
    return child;
  }

  private onLine(line: string): void {
    const job = this.running;
    if (!job) return;
    // The marker's line is the last one the batch prints; reads in the batch print theirs before it.
    job.stdout.push(line);
    if (job.stdout.length < job.outputLines) return;
    job.stdout.pop();
    clearTimeout(job.timer);
    this.running = undefined;
    this.hold(false);
    job.resolve({ code: 0, stdout: job.stdout.join("\n"), stderr: job.stderr });
    this.next();
  }

  /** The process keeps its parent alive only while a batch is in it. */
  private hold(busy: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const h of [c, c.stdin, c.stdout, c.stderr] as Array<{ ref?: () => void; unref?: () => void } | null>) {
      if (busy) h?.ref?.();
      else h?.unref?.();
    }
  }
}

const kept = new Set<string>();
/** netns -> its sessions, one per program. */
const sessions = new Map<string, Map<SessionProgram, Session>>();

/** Batches of ip and bridge into `netns` go through long-lived processes from now on. */
export function keepSessions(netns: string): void {
  kept.add(netns);
}

/** The session for a batch of `program` into `netns`, if that namespace keeps sessions. */
export function sessionFor(program: SessionProgram, netns: string | undefined, start: () => Started): Session | undefined {
  if (netns === undefined || !kept.has(netns)) return undefined;
  // A session lives in the namespace that had the name when it started: one deleted and made
  // again under the name (by anyone) is another namespace, which its sessions do not see.
  const identity = namespaceIdentity(netns);
  if (identity === undefined) {
    // Gone: its sessions would keep the deleted namespace, and all in it, alive.
    forget(netns);
    return undefined;
  }
  if ([...(sessions.get(netns)?.values() ?? [])].some((s) => s.namespace !== identity)) forget(netns);
  const ofNetns = sessions.get(netns) ?? sessions.set(netns, new Map()).get(netns)!;
  let s = ofNetns.get(program);
  if (!s) ofNetns.set(program, (s = new Session(start(), identity, () => forget(netns))));
  return s;
}

/** The namespace a name stands for now (device and inode of its file), or undefined when there is none. */
function namespaceIdentity(netns: string): string | undefined {
  try {
    const st = fs.statSync(`${NETNS_DIR}/${netns}`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Ends the namespace's sessions; batches queued behind their running one go to new sessions. */
function forget(netns: string): void {
  const old = sessions.get(netns);
  if (!old) return;
  sessions.delete(netns);
  for (const [program, session] of old) {
    const queued = session.takeQueue();
    void session.close();
    if (queued.length === 0) continue;
    const next = sessionFor(program, netns, () => session.started());
    if (!next) {
      for (const job of queued) job.reject(new KernelError(session.started().argv, 1, `network namespace ${netns} is gone`));
      continue;
    }
    next.adopt(queued);
  }
}

/** Ends the sessions of `netns` (all of them without it) and stops keeping them. */
export async function closeSessions(netns?: string): Promise<void> {
  const closing: Promise<void>[] = [];
  for (const [ns, ofNetns] of [...sessions]) {
    if (netns !== undefined && ns !== netns) continue;
    sessions.delete(ns);
    for (const s of ofNetns.values()) closing.push(s.close());
  }
  if (netns === undefined) kept.clear();
  else kept.delete(netns);
  await Promise.all(closing);
}
