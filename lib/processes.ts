// The processes of this machine as /proc shows them (those this process may read): for the lab,
// which after a crash must find what its dead predecessor left running, and for tests.
import fs from "node:fs";

export interface ProcessInfo {
  pid: number;
  /** The arguments joined by spaces. */
  cmdline: string;
  env: Record<string, string>;
  /** Its working directory ("" when unreadable). */
  cwd: string;
}

/** Every process this one may read, with its command line and environment. */
export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      const env = Object.fromEntries(
        fs
          .readFileSync(`/proc/${entry}/environ`, "utf8")
          .split("\0")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      );
      let cwd = "";
      try {
        cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // a kernel thread, or not ours
      }
      found.push({ pid: Number(entry), cmdline, env, cwd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
