// Starts and stops one SPIRE (a server and one agent) in a directory of its own (config.ts has the
// layout): the server, then the registration entries it should hold, then the agent with a fresh
// join token, then waits until the agent's Workload API hands out SVIDs. Either one that dies later
// is started again. The CLI is run with argument arrays, never through a shell.
//
// The agent attests with a new join token at every start (its data directory is emptied first):
// a lab that was down for longer than the agent's SVID lives, or whose agent data was lost, starts
// the same way as one restarted a minute later. The workload entries hang off a fixed alias ID
// (spiffe://<td>/lab/agent) that each new token is bound to, so they survive it.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import { logTail, startChild, stopChild, stopProcessesIn } from "../../lib/children.ts";
import type { Child } from "../../lib/children.ts";
import { ensureSpireBinaries } from "./binaries.ts";
import type { SpireBinaries } from "./binaries.ts";
import { writeFileAtomic, writeSpireConfig } from "./config.ts";
import type { SpireFiles } from "./config.ts";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A registration entry: the SPIFFE ID a workload gets when all its selectors match ("unix:gid:64620"). */
export interface SpireEntry {
  spiffeId: string;
  selectors: string[];
}

export interface SpireHealth {
  server: { pid?: number; ok: boolean; detail: string };
  agent: { pid?: number; ok: boolean; detail: string };
}

export interface Spire {
  trustDomain: string;
  /** The agent's Workload API (what SPIFFE_ENDPOINT_SOCKET names, as unix://<path>). */
  workloadSocket: string;
  /** The server's API (root only). */
  serverSocket: string;
  files: SpireFiles;
  health(): Promise<SpireHealth>;
  stop(): Promise<void>;
}

export interface StartSpireOptions {
  dir: string;
  port: number;
  trustDomain: string;
  entries: readonly SpireEntry[];
  log?: (line: string) => void;
  /** Default: found or built by ensureSpireBinaries. */
  binaries?: SpireBinaries;
  /** For each of the server and the agent to become ready; default 60 s. */
  timeoutMs?: number;
}

/** The ID every new join token is bound to: the parent of the lab's workload entries. */
export const agentAliasId = (trustDomain: string) => `spiffe://${trustDomain}/lab/agent`;

interface ShownEntry {
  id: string;
  spiffeId: string;
  parentId: string;
  selectors: string[];
}

const idText = (id: { trust_domain?: string; path?: string } | undefined) => (id ? `spiffe://${id.trust_domain ?? ""}${id.path ?? ""}` : "");

/** `spire-server entry show -output json`, read. */
export function parseEntries(json: string): ShownEntry[] {
  const doc = JSON.parse(json) as {
    entries?: Array<{ id: string; spiffe_id?: { trust_domain?: string; path?: string }; parent_id?: { trust_domain?: string; path?: string }; selectors?: Array<{ type: string; value: string }> }>;
  };
  return (doc.entries ?? []).map((e) => ({
    id: e.id,
    spiffeId: idText(e.spiffe_id),
    parentId: idText(e.parent_id),
    selectors: (e.selectors ?? []).map((s) => `${s.type}:${s.value}`).sort(),
  }));
}

const sameEntry = (a: SpireEntry, b: ShownEntry) => a.spiffeId === b.spiffeId && [...a.selectors].sort().join(",") === b.selectors.join(",");

/** What to create and what to delete so that the entries under `parentId` are exactly `wanted`. */
export function entryChanges(wanted: readonly SpireEntry[], shown: readonly ShownEntry[], parentId: string): { create: SpireEntry[]; remove: ShownEntry[] } {
  const ours = shown.filter((e) => e.parentId === parentId);
  return {
    create: wanted.filter((w) => !ours.some((e) => sameEntry(w, e))),
    remove: ours.filter((e) => !wanted.some((w) => sameEntry(w, e))),
  };
}

export async function startSpire(o: StartSpireOptions): Promise<Spire> {
  const log = o.log ?? (() => {});
  const timeoutMs = o.timeoutMs ?? 60_000;
  const binaries = o.binaries ?? (await ensureSpireBinaries(log));
  const files = writeSpireConfig({ dir: o.dir, port: o.port, trustDomain: o.trustDomain });
  const server = binaries["spire-server"].path;
  const agent = binaries["spire-agent"].path;
  const alias = agentAliasId(o.trustDomain);
  // The running processes; each is started again when it exits while SPIRE is not being stopped.
  const running: { server?: Child; agent?: Child } = {};
  let stopping = false;

  const cli = async (bin: string, args: string[], timeout = 15_000): Promise<string> => {
    try {
      const { stdout } = await run(bin, args, { cwd: files.dir, timeout, maxBuffer: 8 * 1024 * 1024 });
      return stdout;
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      throw new Error(`${bin.split("/").pop()} ${args.slice(0, 2).join(" ")} failed: ${(err.stderr || err.stdout || err.message).trim().slice(0, 400)}`);
    }
  };
  // spire-server <command...> -socketPath <server.sock> <flags...>
  const serverCli = (command: string[], flags: string[] = []) => cli(server, [...command, "-socketPath", files.serverSocket, ...flags]);

  const waitFor = async (what: string, child: Child, logFile: string, probe: () => Promise<unknown>): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      if (child.exitCode !== undefined) throw new Error(`${what} exited before it became ready; its log (${logFile}) ends:\n${logTail(logFile)}`);
      try {
        await probe();
        return;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${timeoutMs / 1000} s (${last}); its log (${logFile}) ends:\n${logTail(logFile)}`);
      await sleep(200);
    }
  };

  const startServer = async (): Promise<void> => {
    if (stopping) throw new Error("SPIRE is stopping");
    const child = startChild({ name: "spire-server", bin: server, args: ["run", "-config", files.serverConf], cwd: files.dir, logFile: `${files.serverLog}.out`, log });
    running.server = child;
    await waitFor("spire-server", child, files.serverLog, () => serverCli(["healthcheck"]));
    supervise(child, "spire-server", startServer);
  };

  /** A fresh join token bound to the alias, and an agent with empty data that attests with it. */
  const startAgent = async (): Promise<void> => {
    const shown = parseEntries(await serverCli(["entry", "show"], ["-output", "json"]));
    // The aliases of earlier agents' tokens go: a new one is made here.
    for (const old of shown.filter((e) => e.spiffeId === alias)) await serverCli(["entry", "delete"], ["-entryID", old.id]);
    const tokenOut = await serverCli(["token", "generate"], ["-spiffeID", alias, "-ttl", "600"]);
    const token = /Token:\s*(\S+)/.exec(tokenOut)?.[1];
    if (!token) throw new Error(`spire-server token generate printed no token: ${tokenOut.trim().slice(0, 200)}`);
    fs.rmSync(files.agentData, { recursive: true, force: true });
    fs.mkdirSync(files.agentData, { recursive: true, mode: 0o700 });
    if (stopping) throw new Error("SPIRE is stopping");
    const child = startChild({ name: "spire-agent", bin: agent, args: ["run", "-config", files.agentConf, "-joinToken", token], cwd: files.dir, logFile: `${files.agentLog}.out`, log });
    running.agent = child;
    // Ready when it hands this process an SVID: attested, synced, and its entries cached.
    await waitFor("spire-agent", child, files.agentLog, () => cli(agent, ["api", "fetch", "x509", "-socketPath", files.workloadSocket, "-timeout", "2s"]));
    supervise(child, "spire-agent", startAgent);
  };

  // One that dies is started again after 1 s, doubling up to 30 s while restarts keep failing: the
  // SVIDs already handed out stay valid meanwhile, and the Workload API's clients reconnect.
  function supervise(child: Child, name: "spire-server" | "spire-agent", restart: () => Promise<void>, delayMs = 1000): void {
    void child.exited.then(async () => {
      if (stopping) return;
      log(`${name} exited while SPIRE should run; starting it again in ${delayMs / 1000} s`);
      await sleep(delayMs);
      if (stopping) return;
      try {
        await restart();
        log(`${name} is running again`);
      } catch (e) {
        log(`starting ${name} again failed: ${(e as Error).message.split("\n")[0]}`);
        const failed = name === "spire-server" ? running.server : running.agent;
        if (failed) supervise(failed, name, restart, Math.min(delayMs * 2, 30_000));
      }
    });
  }

  const stop = async () => {
    stopping = true;
    for (const c of [running.agent, running.server]) if (c) await stopChild(c, log, 10_000);
  };

  try {
    await stopProcessesIn(files.dir, log);
    for (const sock of [files.serverSocket, files.workloadSocket]) fs.rmSync(sock, { force: true });
    await startServer();
    writeFileAtomic(files.bundle, await serverCli(["bundle", "show"]), 0o644);
    const { create, remove } = entryChanges(o.entries, parseEntries(await serverCli(["entry", "show"], ["-output", "json"])), alias);
    for (const e of remove) await serverCli(["entry", "delete"], ["-entryID", e.id]);
    for (const e of create) await serverCli(["entry", "create"], ["-parentID", alias, "-spiffeID", e.spiffeId, ...e.selectors.flatMap((sel) => ["-selector", sel])]);
    if (create.length + remove.length > 0) log(`registration entries: ${create.length} created, ${remove.length} removed`);
    await startAgent();
  } catch (e) {
    await stop();
    throw e;
  }

  const check = async (bin: string, child: Child | undefined, socket: string) => {
    try {
      await cli(bin, ["healthcheck", "-socketPath", socket], 5000);
      return { pid: child?.exitCode === undefined ? child?.child.pid : undefined, ok: true, detail: "healthy" };
    } catch (e) {
      return { pid: child?.exitCode === undefined ? child?.child.pid : undefined, ok: false, detail: (e as Error).message.slice(0, 200) };
    }
  };

  return {
    trustDomain: o.trustDomain,
    workloadSocket: files.workloadSocket,
    serverSocket: files.serverSocket,
    files,
    health: async () => {
      const [srv, agt] = await Promise.all([check(server, running.server, files.serverSocket), check(agent, running.agent, files.workloadSocket)]);
      return { server: srv, agent: agt };
    },
    stop,
  };
}

