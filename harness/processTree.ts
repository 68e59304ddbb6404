// Processes as /proc shows them, for tests that kill what an operator would kill: the Pulumi CLI
// above a provider, with everything it started.
import fs from "node:fs";

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
}

/** /proc/<pid>/stat's name and parent, or undefined once the process is gone. */
function stat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The name is in parentheses and may itself hold spaces or parentheses: the last ")" ends it.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const ppid = Number(text.slice(close + 2).split(" ")[1]);
  return { pid, comm, ppid };
}

/** The nearest ancestor of `pid` whose command name is `comm`. */
export function ancestorNamed(pid: number, comm: string): number | undefined {
  for (let p = stat(pid)?.ppid; p && p > 1; p = stat(p)?.ppid) {
    if (stat(p)?.comm === comm) return p;
  }
  return undefined;
}

export { processes } from "../lib/processes.ts";
export type { ProcessInfo } from "../lib/processes.ts";

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const all = fs
    .readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => stat(Number(d)) ?? []);
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const p of all) if (p.ppid === tree[i]) tree.push(p.pid);
  return tree;
}

/** SIGKILLs `pid` and every process below it at once, as `kill -9` of a process group would. Answers the pids killed. */
export function killTree(pid: number): number[] {
  const tree = processTree(pid);
  for (const p of tree) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone already
    }
  }
  return tree;
}
