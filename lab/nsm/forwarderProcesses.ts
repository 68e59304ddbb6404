// The lab's forwarders as NSM runs them: per k8s node a tungsten and a kernel `tfmesh forwarder`
// process and the node's relay (lab/nsm/relay.ts), all in the node's netns (`ip netns exec`), so a
// forwarder reaches its node's vRouter agent at 127.0.0.1:9091 and TF and Keystone at 127.0.0.1
// as a hostNetwork pod does, and the NSMgr through its unix socket. The daemon supervises them:
// start() returns once every forwarder registered; one that dies is started again (logged, after a
// pause that doubles while it keeps dying at once); stop() sends SIGTERM (a forwarder unregisters)
// and kills what is left after a grace period. Each line a child writes goes to the lab log with
// its name. A child's stdin is a pipe from the daemon, so it exits when the daemon is gone, even by
// SIGKILL. With Kubernetes ("pods"), the forwarders are the DaemonSets' pods, run by the lab's
// kubelet (lab/kube/processPods.ts) through superviseInNetns; only the relays are started here.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { FORWARDER_TYPES } from "../../nsm/forwarderd/config.ts";
import type { Registry } from "../../nsm/registry.ts";
import { FORWARDER_GID } from "../spire/identities.ts";
import { NODE_AGENT_PORT } from "../endpoints.ts";
import type { LabSockets } from "../endpoints.ts";
import type { LabCredentials, LabInstanceConfig } from "../instance.ts";
import { tfmeshHome } from "../instance.ts";


export interface ForwarderProcessesOptions {
  instance: Pick<LabInstanceConfig, "prefix" | "k8sNodes" | "auth" | "ports">;
  credentials: LabCredentials;
  sockets: LabSockets;
  registry: Registry;
  log: (line: string) => void;
  /** How long a forwarder's registration lasts (NSM_MAX_TOKEN_LIFETIME); the registry's default when unset. */
  registrationLifetimeMs?: number;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** "spawn" (default): the daemon runs the forwarders; "pods": only the relays, the forwarders are
   *  the pods of the lab's DaemonSets (lab/kube/forwarderDaemonSets.ts), and ready() waits for their registrations. */
  forwarders?: "spawn" | "pods";
}

export interface ForwarderProcesses {
  /** Starts every relay and forwarder (the nodes' netns must exist). */
  start(): void;
  /** Resolves once every forwarder started registered (rejects after readyTimeoutMs naming those that did not). */
  ready(): Promise<void>;
  /** SIGTERM to all (forwarders first, so they unregister while the NSMgr still listens), SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** The pid of a running child ("tungsten@k8s-1", "relay@k8s-1"). */
  pid(name: string): number | undefined;
  /** Milliseconds from each forwarder's last start until it registered. */
  readyMs(): Record<string, number>;
}

const IP_PATHS = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
const GRACE_MS = 10_000;
/** A child that dies is started again after this, doubled while it keeps dying within MAX_BACKOFF_MS of its start. */
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;
/** Node's cache of compiled modules (keyed by their content), shared by every lab: six processes per start load the same code. */
const compileCache = path.join(tfmeshHome(), "compile-cache");

const sourceOrBuilt = (relative: string) => fileURLToPath(new URL(`${relative}${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
/** The `tfmesh` CLI, whose `forwarder` command is the forwarder image's entrypoint. */
export const FORWARDER_PROGRAM = sourceOrBuilt("../../cli/tfmesh");

/** A process the daemon keeps running in a node's netns (`ip netns exec`): started again when it dies. */
export interface NetnsChild {
  readonly name: string;
  pid(): number | undefined;
  /** Starts so far beyond the first. */
  restarts(): number;
  /** performance.now() of the last start. */
  startedAt(): number;
  /** SIGTERM, SIGKILL after graceMs; no restart after it. */
  stop(graceMs?: number): Promise<void>;
}

export interface NetnsChildOptions {
  name: string;
  netns: string;
  argv: string[];
  env: Record<string, string>;
  /** Its group (uid stays root): the lab's SPIRE tells the forwarders from other root processes by it. */
  gid?: number;
  log: (line: string) => void;
  /** After each start and each exit. */
  onChange?: () => void;
}

/** The lab daemon's TFMESH_TRACE (lib/trace.ts) reaches the processes it runs, so one setting traces every hop. */
const traceSetting = process.env.TFMESH_TRACE ? { TFMESH_TRACE: process.env.TFMESH_TRACE } : {};

/**
 * Runs `node <argv>` in the netns with only `env` (and PATH, the compile cache): each line it
 * writes goes to the log with its name; one that dies is started again after a pause that doubles
 * while it keeps dying at once. Its stdin is a pipe from the daemon (TFMESH_EXIT_ON_STDIN_EOF).
 */
export function superviseInNetns(o: NetnsChildOptions): NetnsChild {
  const ip = IP_PATHS.find((p) => fs.existsSync(p));
  if (!ip) throw new Error("ip is not installed (apt-get install iproute2)");
  let child: ChildProcess | undefined;
  let startedAt = 0;
  let starts = 0;
  let backoffMs = FIRST_BACKOFF_MS / 2;
  let restart: NodeJS.Timeout | undefined;
  let stopped = false;

  const launch = () => {
    startedAt = performance.now();
    starts++;
    const p = spawn(ip, ["netns", "exec", o.netns, process.execPath, ...o.argv], {
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", NODE_COMPILE_CACHE: compileCache, ...traceSetting, ...o.env },
      stdio: ["pipe", "pipe", "pipe"],
      ...(o.gid !== undefined ? { gid: o.gid } : {}),
    });
    child = p;
    p.stdin?.on("error", () => {});
    for (const stream of [p.stdout, p.stderr]) if (stream) createInterface({ input: stream }).on("line", (line) => o.log(`${o.name}: ${line}`));
    p.once("error", (e) => o.log(`${o.name}: cannot start: ${e.message}`));
    p.once("exit", (code, signal) => {
      child = undefined;
      o.onChange?.();
      if (stopped) return;
      const livedMs = performance.now() - startedAt;
      backoffMs = livedMs > MAX_BACKOFF_MS ? FIRST_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, backoffMs * 2);
      o.log(`${o.name} (pid ${p.pid}) exited (${signal ?? `code ${code}`}); starting it again in ${backoffMs} ms`);
      restart = setTimeout(() => {
        restart = undefined;
        if (!stopped) launch();
      }, backoffMs);
      restart.unref();
    });
    o.onChange?.();
  };
  launch();

  return {
    name: o.name,
    pid: () => child?.pid,
    restarts: () => starts - 1,
    startedAt: () => startedAt,
    stop: (graceMs = GRACE_MS) =>
      new Promise<void>((resolve) => {
        stopped = true;
        clearTimeout(restart);
        const p = child;
        if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
        const kill = setTimeout(() => {
          o.log(`${o.name} (pid ${p.pid}) did not stop within ${graceMs} ms; killing it`);
          p.kill("SIGKILL");
        }, graceMs);
        p.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        p.kill("SIGTERM");
      }),
  };
}

export function createForwarderProcesses(opts: ForwarderProcessesOptions): ForwarderProcesses {
  const { instance, sockets, registry, log } = opts;
  const relayProgram = sourceOrBuilt("./relay");
  const children = new Map<string, NetnsChild>();
  let startedAt = 0;
  const ready = new Map<string, number>();

  const forwarderEnv = (type: string, node: string): Record<string, string> => {
    const name = `${type}@${node}`;
    const keystone: Record<string, string> =
      instance.auth === "keystone"
        ? {
            OS_AUTH_URL: `http://127.0.0.1:${instance.ports.keystone}/v3`,
            OS_USERNAME: opts.credentials.username,
            OS_PASSWORD: opts.credentials.password,
            OS_PROJECT_NAME: opts.credentials.project,
            OS_USER_DOMAIN_NAME: opts.credentials.domain,
          }
        : {};
    return {
      NSM_NAME: name,
      NSM_CONNECT_TO: `unix://${sockets.nsm}`,
      NSM_LISTEN_ON: `unix://${sockets.forwarder(name)}`,
      NSM_LABELS: `type:${type}`,
      NODE_NAME: node,
      ...(opts.registrationLifetimeMs ? { NSM_MAX_TOKEN_LIFETIME: `${opts.registrationLifetimeMs}ms` } : ({} as Record<string, string>)),
      TF_API_URL: `http://127.0.0.1:${instance.ports.tf}`,
      ...keystone,
      VROUTER_AGENT_URL: `http://127.0.0.1:${NODE_AGENT_PORT}`,
      TFMESH_STATE_DIR: sockets.forwarderState(name),
      TFMESH_NODE_NETNS: `${instance.prefix}-${node}`,
      TFMESH_POD_NETNS_PREFIX: `${instance.prefix}-pod-`,
      TFMESH_EXIT_ON_STDIN_EOF: "1",
      SPIFFE_ENDPOINT_SOCKET: `unix://${sockets.spiffe}`,
    };
  };

  const add = (name: string, node: string, argv: string[], env: Record<string, string> = {}, gid?: number) => {
    children.set(name, superviseInNetns({ name, netns: `${instance.prefix}-${node}`, argv, env, log, onChange: () => ready.delete(name), ...(gid !== undefined ? { gid } : {}) }));
  };

  // A forwarder that registers (again) after a start: how long it took.
  const unwatch = registry.watchEndpoints(({ record, deleted }) => {
    if (deleted || ready.has(record.name) || !forwarderNames().includes(record.name)) return;
    const child = children.get(record.name);
    if (child) ready.set(record.name, Math.round(performance.now() - child.startedAt()));
    else if (startedAt > 0) ready.set(record.name, Math.round(performance.now() - startedAt));
  });

  const forwarderNames = () => instance.k8sNodes.flatMap((node) => FORWARDER_TYPES.map((type) => `${type}@${node}`));

  const waitRegistered = (timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      // Registered since this start: a record a previous daemon's forwarders left may still be unexpired.
      const missing = () => forwarderNames().filter((n) => !ready.has(n));
      if (missing().length === 0) return resolve();
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`forwarder(s) ${missing().join(", ")} did not register within ${timeoutMs} ms (see their lines in the log)`));
      }, timeoutMs);
      const stop = registry.watchEndpoints(() => {
        if (missing().length > 0) return;
        clearTimeout(timer);
        stop();
        resolve();
      });
    });

  const terminate = (which: NetnsChild[]) => Promise.all(which.map((c) => c.stop(GRACE_MS)));

  return {
    start() {
      ready.clear();
      startedAt = performance.now();
      for (const node of instance.k8sNodes) {
        const pipes = [`${NODE_AGENT_PORT}=${sockets.agent(node)}`, `${instance.ports.tf}=${sockets.tf}`, `${instance.ports.keystone}=${sockets.keystone}`];
        add(`relay@${node}`, node, [relayProgram, ...pipes]);
        if (opts.forwarders === "pods") continue;
        for (const type of FORWARDER_TYPES) add(`${type}@${node}`, node, [FORWARDER_PROGRAM, "forwarder"], forwarderEnv(type, node), FORWARDER_GID);
      }
    },
    ready: () => waitRegistered(opts.readyTimeoutMs ?? 60_000),
    async stop() {
      const all = [...children.values()];
      await terminate(all.filter((c) => !c.name.startsWith("relay@")));
      await terminate(all.filter((c) => c.name.startsWith("relay@")));
      unwatch();
    },
    pid: (name) => children.get(name)?.pid(),
    readyMs: () => Object.fromEntries(ready),
  };
}
