// The lab's SPIRE as `tfmesh lab status` shows it, asked directly (so it works while the daemon is
// busy): the server's health through its own CLI on the server socket, and the agent's Workload
// API by fetching this process's SVID from it, as every NSM component does.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { WorkloadApiError, X509Source } from "../../wire/spiffe/x509Source.ts";
import { labSockets } from "../endpoints.ts";
import { spireFiles } from "./config.ts";
import { findSpireBinary } from "./binaries.ts";

const run = promisify(execFile);

export interface SpireProbe {
  what: "spire-server" | "spire-agent";
  ok: boolean;
  detail: string;
}

async function probeServer(serverSocket: string): Promise<SpireProbe> {
  const server = await findSpireBinary("spire-server").catch(() => undefined);
  if (!server) return { what: "spire-server", ok: false, detail: "no spire-server found to ask (tools/spire/build.sh builds it)" };
  try {
    await run(server.path, ["healthcheck", "-socketPath", serverSocket], { timeout: 5000 });
    return { what: "spire-server", ok: true, detail: `healthy (${serverSocket})` };
  } catch (e) {
    const err = e as Error & { stderr?: string };
    return { what: "spire-server", ok: false, detail: (err.stderr || err.message).trim().split("\n")[0]!.slice(0, 200) };
  }
}

async function probeAgent(workloadSocket: string): Promise<SpireProbe> {
  try {
    const source = await X509Source.connect(`unix://${workloadSocket}`, { timeoutMs: 5000 });
    try {
      const svid = source.current();
      return { what: "spire-agent", ok: true, detail: `this process is ${svid.spiffeId} until ${svid.notAfter.toISOString()}` };
    } finally {
      source.close();
    }
  } catch (e) {
    return { what: "spire-agent", ok: false, detail: e instanceof WorkloadApiError ? `${e.problem}: ${e.message}` : (e as Error).message };
  }
}

export async function probeSpire(stateDir: string): Promise<SpireProbe[]> {
  const files = spireFiles(labSockets(stateDir).spireDir);
  return Promise.all([probeServer(files.serverSocket), probeAgent(files.workloadSocket)]);
}

export function renderSpireHealth(probes: SpireProbe[]): string[] {
  return probes.map((p) => `  ${p.what.padEnd(12)}  ${p.ok ? "ok" : "DOWN"}  ${p.detail}`);
}
