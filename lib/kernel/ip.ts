// `ip` with JSON output and batch input.
import { batchText, readInSession, runBatch } from "./batch.ts";
import type { BatchOptions } from "./batch.ts";
import { KernelError, run } from "./run.ts";

/** `ip -json <args>` parsed; commands that print nothing give []. */
export async function json<T = Record<string, unknown>>(args: string[], netns?: string): Promise<T[]> {
  const stdout = (await readInSession("ip", args, netns)) ?? (await run("ip", ["-json", ...args], { netns })).stdout;
  return parseJsonList<T>(stdout);
}

export function parseJsonList<T>(stdout: string): T[] {
  const text = stdout.trim();
  if (text === "") return [];
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? (parsed as T[]) : [parsed as T];
}

/**
 * Several `ip -json` reads in one process: `ip -json [-details] -batch -` prints one JSON array
 * per command, in order. Returns one list per command.
 */
export async function jsonBatch(commands: string[][], netns?: string, opts: { details?: boolean } = {}): Promise<unknown[][]> {
  if (commands.length === 0) return [];
  const input = batchText("ip", commands);
  const { stdout } = await run("ip", ["-json", ...(opts.details ? ["-details"] : []), "-batch", "-"], { netns, input });
  const values = splitJsonValues(stdout);
  if (values.length !== commands.length) throw new KernelError(["ip", "-json", "-batch", "-"], 0, `expected ${commands.length} JSON results, got ${values.length}`, input);
  return values.map((v) => (Array.isArray(v) ? v : [v]));
}

/** Splits concatenated top-level JSON values ("[..]\n[..]"). */
export function splitJsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "]" || c === "}") {
      depth--;
      if (depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

/** `ip -batch -`: every line one `ip` command without the leading "ip". */
export async function batch(lines: string[][], netns?: string, opts: BatchOptions = {}): Promise<void> {
  await runBatch("ip", lines, netns, opts);
}
