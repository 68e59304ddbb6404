// `ip -batch -` / `bridge -batch -`: many commands for one process start. Each line is an argument
// array; tokens are checked so that nothing can change how the batch parser splits a line.
import { commandLine, KernelError, programPath, run, traceRun } from "./run.ts";
import type { Program, RunResult } from "./run.ts";
import { sessionFor } from "./session.ts";

const SAFE_TOKEN = /^[A-Za-z0-9_.:/@+,=-]+$/;

export function batchText(cmd: Program, lines: string[][]): string {
  return lines
    .map((line) => {
      for (const t of line) {
        if (!SAFE_TOKEN.test(t)) throw new KernelError([cmd, "-batch", "-"], 2, `unsafe token ${JSON.stringify(t)} in batch line "${line.join(" ")}"`);
      }
      return line.join(" ");
    })
    .join("\n") + "\n";
}

export interface BatchOptions {
  /** A process of its own even where the namespace keeps a session: one that knows nothing of its links yet. */
  ownProcess?: boolean;
}

/**
 * Runs the lines in one process (the namespace's session when it keeps one, session.ts); stops at
 * the first failing line (the error names it).
 */
export async function runBatch(cmd: "ip" | "bridge", lines: string[][], netns?: string, opts: BatchOptions = {}): Promise<RunResult | undefined> {
  if (lines.length === 0) return undefined;
  const input = batchText(cmd, lines);
  const session = opts.ownProcess ? undefined : keptSession(cmd, netns);
  if (!session) return run(cmd, ["-batch", "-"], { netns, input });
  return traceRun(`${commandLine(cmd, ["-batch", "-"], netns).join(" ")} (session)`, input, () => session.run(lines, input, 60_000));
}

/**
 * One show command of ip (`link show ...`, no options before it) through the namespace's session;
 * undefined when it keeps none. Not bridge's: its show filters (`fdb show dev X`) stay set for
 * the commands after them in a batch, so a later `fdb show` would list only X.
 */
export async function readInSession(cmd: "ip", args: string[], netns?: string): Promise<string | undefined> {
  if (args[1] !== "show") return undefined;
  const session = keptSession(cmd, netns);
  if (!session) return undefined;
  const input = batchText(cmd, [args]);
  return (await traceRun(`${commandLine(cmd, ["-json", ...args], netns).join(" ")} (session)`, undefined, () => session.run([args], input, 60_000))).stdout;
}

function keptSession(cmd: "ip" | "bridge", netns: string | undefined) {
  return sessionFor(cmd, netns, () => ({ file: programPath(cmd), argv: commandLine(cmd, ["-json", "-batch", "-"], netns) }));
}
