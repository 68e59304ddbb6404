// The one way this project runs kernel tools: a fixed allow-list of programs, argument arrays
// (execFile, never a shell; started from a small helper process, see spawner.ts), and errors that
// carry the command line and what the tool printed.
import fs from "node:fs";
import { checkNetnsName } from "../validate/names.ts";
import { execute } from "./spawner.ts";
import { tracingEnabled } from "../trace.ts";

export const PROGRAMS = ["ip", "bridge", "sysctl", "ping", "arping"] as const;
export type Program = (typeof PROGRAMS)[number];

const SEARCH_DIRS = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
const PACKAGE_OF: Record<Program, string> = { ip: "iproute2", bridge: "iproute2", sysctl: "procps", ping: "iputils-ping", arping: "iputils-arping" };

export interface RunOptions {
  /** Run inside this network namespace (ip/bridge via -n, others via `ip netns exec`). */
  netns?: string;
  /** Resolve with the result instead of throwing when the program exits non-zero. */
  allowFail?: boolean;
  /** Written to the program's standard input (batch mode). */
  input?: string;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A kernel tool failed; `command` is the argv that ran, `stderr` what it said. */
export class KernelError extends Error {
  readonly command: string[];
  readonly code: number;
  readonly stderr: string;
  constructor(command: string[], code: number, stderr: string, input?: string) {
    const said = stderr.trim() || `exit code ${code}`;
    super(`${command.join(" ")}${input !== undefined ? " (batch: " + summarizeBatch(input) + ")" : ""} failed: ${said}`);
    this.name = "KernelError";
    this.command = command;
    this.code = code;
    this.stderr = stderr;
  }
}

function summarizeBatch(input: string): string {
  const lines = input.split("\n").filter((l) => l !== "");
  const shown = lines.slice(0, 8).join("; ");
  return lines.length > 8 ? `${shown}; ... ${lines.length} lines` : shown;
}

/** Process starts and their wall time since load, per program (bench and tuning read it). */
export const runStats = { count: 0, ms: 0, byProgram: {} as Record<string, number> };

// TFMESH_TRACE=kernel prints every command with its duration (lib/trace.ts).
const TRACE = tracingEnabled("kernel");

const resolved = new Map<Program, string>();

function findProgram(cmd: Program): string | undefined {
  const hit = resolved.get(cmd);
  if (hit) return hit;
  for (const dir of SEARCH_DIRS) {
    const p = `${dir}/${cmd}`;
    if (fs.existsSync(p)) {
      resolved.set(cmd, p);
      return p;
    }
  }
  return undefined;
}

export function programPath(cmd: Program): string {
  const found = findProgram(cmd);
  if (found) return found;
  throw new KernelError([cmd], 127, `${cmd} is not installed (apt-get install ${PACKAGE_OF[cmd]})`);
}

/** The programs of `wanted` that are not installed, each with the Debian package that brings it. */
export function missingPrograms(wanted: readonly Program[] = PROGRAMS): Array<{ program: Program; package: string }> {
  return wanted.filter((cmd) => findProgram(cmd) === undefined).map((program) => ({ program, package: PACKAGE_OF[program] }));
}

export function isProgram(cmd: string): cmd is Program {
  return (PROGRAMS as readonly string[]).includes(cmd);
}

/** The argv that runs `cmd args` in `netns`: ip and bridge take -n, the rest go through `ip netns exec`. */
export function commandLine(cmd: Program, args: string[], netns?: string): string[] {
  if (netns === undefined) return [cmd, ...args];
  const problem = checkNetnsName(netns);
  if (problem) throw new KernelError([cmd, ...args], 2, problem);
  if (cmd === "ip" || cmd === "bridge") return [cmd, "-n", netns, ...args];
  return ["ip", "netns", "exec", netns, cmd, ...args];
}

export function run(cmd: Program, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!isProgram(cmd)) return Promise.reject(new KernelError([String(cmd)], 2, `program ${JSON.stringify(cmd)} is not on the kernel allow-list`));
  let argv: string[];
  let file: string;
  try {
    argv = commandLine(cmd, args, opts.netns);
    file = programPath(argv[0] as Program);
  } catch (e) {
    return Promise.reject(e);
  }
  const started = performance.now();
  runStats.count += 1;
  runStats.byProgram[argv[0]!] = (runStats.byProgram[argv[0]!] ?? 0) + 1;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return execute({ file, args: argv.slice(1), timeoutMs, ...(opts.input !== undefined ? { input: opts.input } : {}) }).then(({ code, stdout, stderr, killed }) => {
    if (killed) stderr = `${stderr}\n(killed after ${timeoutMs} ms)`;
    const took = performance.now() - started;
    runStats.ms += took;
    traced(argv.join(" "), opts.input, took);
    if (code !== 0 && !opts.allowFail) throw new KernelError(argv, code, stderr, opts.input);
    return { code, stdout, stderr };
  });
}

function traced(what: string, input: string | undefined, took: number): void {
  if (TRACE) process.stderr.write(`[kernel] ${took.toFixed(1)} ms ${what}${input !== undefined ? ` <<< ${summarizeBatch(input)}` : ""}\n`);
}

/** Times (and with TFMESH_TRACE=kernel prints) kernel work that does not start a process of its own (session.ts). */
export async function traceRun<T>(what: string, input: string | undefined, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    traced(what, input, performance.now() - started);
  }
}

/** True when a failure only says that the object is already there. */
export function isExists(err: unknown): boolean {
  return err instanceof KernelError && /File exists|already exists/i.test(err.stderr);
}

/** True when a failure only says that the object is not there. */
export function isMissing(err: unknown): boolean {
  return (
    err instanceof KernelError &&
    /Cannot find device|does not exist|No such device|No such file or directory|No such process|not found|Cannot assign requested address/i.test(err.stderr)
  );
}
