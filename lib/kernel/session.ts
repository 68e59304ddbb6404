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
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { KernelError } from "./run.ts";
import type { RunResult } from "./run.ts";

export type SessionProgram = "ip" | "bridge";

const MARKER: Record<SessionProgram, string> = { ip: "link show dev lo", bridge: "fdb show dev lo" };

interface Job {
  input: string;
  lineCount: number;
  /** Lines the batch prints on stdout: one JSON line per show command, then the marker's. */
  outputLines: number;
  timeoutMs: number;
  resolve: (r: RunResult) => void;
  reject: (e: unknown) => void;
}

interface Started {
  file: string;
  argv: string[];
}

class Session {
  private child: ChildProcess | undefined;
  private readonly queue: Job[] = [];
  private running: (Job & { firstLine: number; stdout: string[]; stderr: string; timer: NodeJS.Timeout }) | undefined;
  /** Lines written to the current process so far (the tool numbers them across batches). */
  private linesWritten = 0;
  private closed = false;

  private readonly start: Started;

  constructor(start: Started) {
    this.start = start;
  }

  run(lines: string[][], input: string, timeoutMs: number): Promise<RunResult> {
    if (this.closed) return Promise.reject(new KernelError(this.start.argv, 1, "the session was closed"));
    const outputLines = lines.filter((l) => l[1] === "show").length + 1;
    return new Promise((resolve, reject) => {
      this.queue.push({ input, lineCount: lines.length, outputLines, timeoutMs, resolve, reject });
      this.next();
    });
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
    this.running = { ...job, firstLine: this.linesWritten + 1, stdout: [], stderr: "", timer };
    this.linesWritten += job.lineCount + 1;
    this.hold(true);
    child.stdin!.write(`${job.input}${MARKER[this.programName()]}\n`);
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
        const said = job.stderr.replace(/Command failed -:(\d+)/g, (_, n: string) => `Command failed -:${Number(n) - job.firstLine + 1}`);
        job.reject(new KernelError(this.start.argv, code ?? 1, signal ? `${said}\n(killed: ${signal}, after ${job.timeoutMs} ms at most)` : said, job.input));
      }
      this.next();
    };
    child.once("exit", gone);
    child.once("error", (e) => {
      child.removeListener("exit", gone);
      gone(1, null);
      void e;
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
const sessions = new Map<string, Session>();

/** Batches of ip and bridge into `netns` go through long-lived processes from now on. */
export function keepSessions(netns: string): void {
  kept.add(netns);
}

/** The session for a batch of `program` into `netns`, if that namespace keeps sessions. */
export function sessionFor(program: SessionProgram, netns: string | undefined, start: () => Started): Session | undefined {
  if (netns === undefined || !kept.has(netns)) return undefined;
  const key = `${program} ${netns}`;
  let s = sessions.get(key);
  if (!s) sessions.set(key, (s = new Session(start())));
  return s;
}

/** Ends the sessions of `netns` (all of them without it) and stops keeping them. */
export async function closeSessions(netns?: string): Promise<void> {
  const closing: Promise<void>[] = [];
  for (const [key, s] of sessions) {
    const ns = key.slice(key.indexOf(" ") + 1);
    if (netns !== undefined && ns !== netns) continue;
    sessions.delete(key);
    closing.push(s.close());
  }
  if (netns === undefined) kept.clear();
  else kept.delete(netns);
  await Promise.all(closing);
}
