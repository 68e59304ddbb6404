// sysctl inside a namespace: net.* settings are per namespace (and per interface).
import { KernelError, run } from "./run.ts";

const KEY = /^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/;
const VALUE = /^[A-Za-z0-9_.:-]+$/;

/** Writes every key=value in one sysctl run. */
export async function set(settings: Record<string, string | number>, netns?: string): Promise<void> {
  const pairs = Object.entries(settings).map(([k, v]) => {
    const value = String(v);
    if (!KEY.test(k) || !VALUE.test(value)) throw new KernelError(["sysctl", `${k}=${value}`], 2, `refusing sysctl setting ${JSON.stringify(k)}=${JSON.stringify(value)}`);
    return `${k}=${value}`;
  });
  if (pairs.length === 0) return;
  await run("sysctl", ["-q", "-w", ...pairs], { netns });
}

export async function get(key: string, netns?: string): Promise<string> {
  if (!KEY.test(key)) throw new KernelError(["sysctl", key], 2, `refusing sysctl key ${JSON.stringify(key)}`);
  const { stdout } = await run("sysctl", ["-n", key], { netns });
  return stdout.trim();
}
