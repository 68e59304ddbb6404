// The daemon's log: timestamped lines appended to <stateDir>/daemon.log, echoed to stdout when
// someone is watching (a foreground run), so `lab up` and tests can show what went wrong.
import fs from "node:fs";
import path from "node:path";

export type Log = (line: string) => void;

const LOG_FILE = "daemon.log";

export function logPath(stateDir: string): string {
  return path.join(stateDir, LOG_FILE);
}

export function createLog(stateDir: string, { echo = false }: { echo?: boolean } = {}): Log {
  const file = logPath(stateDir);
  return (line: string) => {
    const text = `${new Date().toISOString()} [${process.pid}] ${line}\n`;
    try {
      fs.appendFileSync(file, text);
    } catch {
      // The state dir may be gone during a wipe; the line still reaches stdout below.
    }
    if (echo) process.stdout.write(text);
  };
}
