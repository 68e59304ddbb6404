// A `tfmesh forwarder` process for tests: started with an environment, its stderr kept, killed
// or stopped on demand. The caller waits for its registration through its NSMgr.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FORWARDER_GID } from "../../lab/spire/identities.ts";

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../cli/tfmesh.ts");

export interface ForwarderProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or 128 + signal). */
  exited: Promise<number>;
  kill(signal: NodeJS.Signals): Promise<number>;
}

/** Runs with gid FORWARDER_GID (uid 0): the lab's SPIRE gives it the forwarders' SPIFFE ID. */
export function startForwarderProcess(env: Record<string, string>): ForwarderProcess {
  const child = spawn(process.execPath, [CLI, "forwarder"], { env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"], gid: FORWARDER_GID });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((resolve) => child.once("exit", (code, signal) => resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : 15))));
  return {
    child,
    output: () => out,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
