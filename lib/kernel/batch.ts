// `ip -batch -` / `bridge -batch -`: many commands for one process start. Each line is an argument
// array; tokens are checked so that nothing can change how the batch parser splits a line.
import { KernelError, run } from "./run.ts";
import type { Program, RunResult } from "./run.ts";

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

/** Runs the lines in one process; stops at the first failing line (the error names it). */
export async function runBatch(cmd: "ip" | "bridge", lines: string[][], netns?: string): Promise<RunResult | undefined> {
  if (lines.length === 0) return undefined;
  const input = batchText(cmd, lines);
  return run(cmd, ["-batch", "-"], { netns, input });
}
