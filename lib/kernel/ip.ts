// `ip` with JSON output and batch input.
import { runBatch } from "./batch.ts";
import { run } from "./run.ts";

/** `ip -json <args>` parsed; commands that print nothing give []. */
export async function json<T = Record<string, unknown>>(args: string[], netns?: string): Promise<T[]> {
  const { stdout } = await run("ip", ["-json", ...args], { netns });
  return parseJsonList<T>(stdout);
}

export function parseJsonList<T>(stdout: string): T[] {
  const text = stdout.trim();
  if (text === "") return [];
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? (parsed as T[]) : [parsed as T];
}

/** `ip -batch -`: every line one `ip` command without the leading "ip". */
export async function batch(lines: string[][], netns?: string): Promise<void> {
  await runBatch("ip", lines, netns);
}
