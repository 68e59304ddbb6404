// The fixture every lab and e2e test uses: a private lab instance (own name, kernel prefix, free
// ports and temp state dir) that is gone again afterwards, even when the test fails or its process
// dies. Three layers make sure of that:
//   1. stop() (call it in afterAll) stops the daemon, removes every "<prefix>-*" netns and the state dir;
//   2. the daemon runs with --exit-with-parent: when the test process dies, it wipes itself;
//   3. every startLab() first sweeps instances whose test process is gone (registry in the tmp dir).
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { HttpClient } from "../lib/http/client.ts";
import * as netns from "../lib/kernel/netns.ts";
import { ping as kernelPing } from "../lib/kernel/ping.ts";
import type { PingOptions, PingResult } from "../lib/kernel/ping.ts";
import type { RunResult } from "../lib/kernel/run.ts";
import { startLabInstance } from "../lab/daemon.ts";
import type { RunningLab } from "../lab/daemon.ts";
import { endpointsFor } from "../lab/endpoints.ts";
import type { LabEndpoints } from "../lab/endpoints.ts";
import { resolveInstance } from "../lab/instance.ts";
import type { LabInstanceConfig, LabInstanceOptions } from "../lab/instance.ts";
import type { LabStatus } from "../lab/introspection.ts";
import { logSize, processAlive, runningDaemonPid, spawnDaemon, stopDaemon, waitHealthy, wipeKernel } from "../lab/lifecycle.ts";
import { labToken } from "../lab/keystoneSession.ts";
import { tokenHeaders } from "../wire/tf.ts";
import { createLog } from "../lab/log.ts";
import type { TopologyView } from "../lab/topologyView.ts";
import { findWorkload } from "../lab/workloads.ts";
import { loadKubeconfig } from "../wire/kubeconfig.ts";
import { KubernetesClient } from "../wire/kubernetes.ts";
import type { Pod } from "../wire/kubernetes.ts";
import { eventually } from "./eventually.ts";
import { createPod, deletePod, getPod, labKube, netnsAnnotation } from "./kube.ts";
import type { PodOptions } from "./kube.ts";

/** Generous: a cold lab builds a few dozen namespaces. Use for beforeAll(startLab) hooks. */
export const LAB_TIMEOUT = 120_000;

export interface StartLabOptions {
  /** Instance name; default derived from the test file and pid. */
  name?: string;
  /** Run the daemon's parts inside this process (faster start, shares the test's event loop). */
  inProcess?: boolean;
  computeNodes?: string[];
  k8sNodes?: string[];
  auth?: LabInstanceOptions["auth"];
  /** Run the Kubernetes control plane, with the lab as the kubelet of its k8s nodes (default off: it costs ~10 s and ~600 MB). */
  kubernetes?: boolean;
}

export interface TestLab {
  config: LabInstanceConfig;
  endpoints: LabEndpoints;
  name: string;
  prefix: string;
  stateDir: string;
  /** The endpoints.json path (point TFMESH_ENDPOINTS at it for provider / Pulumi tests). */
  endpointsFile: string;
  /** Milliseconds from spawning the daemon until it was healthy. */
  startMs: number;
  /** The lab's own API (/lab/*), sending the admin user's Keystone token when auth is "keystone". */
  api: HttpClient;
  /** Headers with a Keystone token for the admin user (empty for a no-auth lab). */
  authHeaders(): Promise<Record<string, string>>;
  /** The netns of a VM (Nova name or server id), a pod (name), or a netns name given as is. */
  netnsOf(target: string): Promise<string>;
  /** Runs an allow-listed program (ip, ping, ...) inside that netns; never throws for a non-zero exit. */
  inLab(target: string, argv: string[]): Promise<RunResult>;
  ping(from: string, ip: string, opts?: PingOptions): Promise<PingResult>;
  topology(): Promise<TopologyView>;
  status(): Promise<LabStatus>;
  /** Every netns of this instance that exists right now. */
  namespaces(): string[];
  /** The lab's API server as its admin (from the instance's kubeconfig); undefined without Kubernetes. */
  kube?: KubernetesClient;
  /** A bare pod (busybox sleeping, on `node` when given), resolved once Ready: its netns exists and is annotated. */
  createPod(name: string, opts?: PodOptions): Promise<Pod>;
  /** Deletes the pod as kubectl does and resolves once it and its netns are gone. */
  deletePod(name: string, opts?: { namespace?: string }): Promise<void>;
  /**
   * Stops the daemon (state and kernel kept), runs `whileDown` (e.g. damage to repair), starts it
   * again; resolves with the new start time in ms.
   */
  restart(whileDown?: () => Promise<void>): Promise<number>;
  /** Stops the daemon and removes everything of the instance. Idempotent. */
  stop(): Promise<void>;
}

const REGISTRY = path.join(os.tmpdir(), "tfmesh-test-labs");

interface RegistryEntry {
  owner: number;
  prefix: string;
  stateDir: string;
}

/** Removes labs left by test processes that no longer exist. */
export async function sweepStaleLabs(): Promise<string[]> {
  let files: string[];
  try {
    files = fs.readdirSync(REGISTRY);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const f of files.filter((x) => x.endsWith(".json"))) {
    const file = path.join(REGISTRY, f);
    let entry: RegistryEntry;
    try {
      entry = JSON.parse(fs.readFileSync(file, "utf8")) as RegistryEntry;
    } catch {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (processAlive(entry.owner)) continue;
    await stopDaemon(entry.stateDir, 5000).catch(() => false);
    await wipeKernel(entry.prefix).catch(() => []);
    fs.rmSync(entry.stateDir, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
    swept.push(entry.prefix);
  }
  return swept;
}

/**
 * Records that this process owns the instance, so that the next startLab() after this process died
 * removes it. Returns the record's path (delete it once the instance is gone).
 */
export function registerForSweep(config: Pick<LabInstanceConfig, "prefix" | "stateDir">): string {
  fs.mkdirSync(REGISTRY, { recursive: true });
  const file = path.join(REGISTRY, `${config.prefix}.json`);
  fs.writeFileSync(file, JSON.stringify({ owner: process.pid, prefix: config.prefix, stateDir: config.stateDir } satisfies RegistryEntry));
  return file;
}

/** A fresh, unused name and prefix for a test instance (derived from the test file, pid and a counter). */
export function testInstanceIdentity(explicitName?: string): { name: string; prefix: string } {
  return uniqueIdentity(explicitName);
}

let counter = 0;

function callerTestFile(): string {
  const fromVitest = (() => {
    try {
      return expect.getState().testPath;
    } catch {
      return undefined;
    }
  })();
  return fromVitest ?? process.argv[1] ?? "lab";
}

function uniqueIdentity(explicitName?: string): { name: string; prefix: string } {
  const file = path.basename(callerTestFile()).replace(/\.test\.ts$|\.ts$/, "");
  const seed = `${file}|${explicitName ?? ""}|${process.pid}|${counter++}|${Date.now()}`;
  const digest = BigInt("0x" + createHash("sha256").update(seed).digest("hex").slice(0, 12));
  const tag = digest.toString(36).padStart(5, "0").slice(-5);
  const stem = (explicitName ?? file).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 17) || "lab";
  return { name: explicitName ?? `${stem.replace(/-+$/, "")}-${tag}`, prefix: `t${tag}` };
}

export async function startLab(opts: StartLabOptions = {}): Promise<TestLab> {
  await sweepStaleLabs();
  // Auto ports are free when picked, but a parallel test may take one before the daemon listens.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLabOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/is already in use on 127\.0\.0\.1/.test((e as Error).message)) throw e;
    }
  }
}

async function startLabOnce(opts: StartLabOptions): Promise<TestLab> {
  const id = uniqueIdentity(opts.name);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `tfmesh-lab-${id.name}-`));
  const config = await resolveInstance({
    name: id.name,
    prefix: id.prefix,
    stateDir,
    ports: "auto",
    computeNodes: opts.computeNodes,
    k8sNodes: opts.k8sNodes,
    auth: opts.auth,
    kubernetes: opts.kubernetes,
  });
  const registryFile = registerForSweep(config);

  let inProcess: RunningLab | undefined;
  const log = createLog(stateDir);
  const start = async (): Promise<number> => {
    const t0 = Date.now();
    if (opts.inProcess) {
      inProcess = await startLabInstance(config, log);
    } else {
      const logFrom = logSize(stateDir);
      const child = spawnDaemon(config, { exitWithParent: process.pid });
      await waitHealthy(config, { pid: child.pid, timeoutMs: LAB_TIMEOUT, logFrom });
    }
    return Date.now() - t0;
  };
  const halt = async () => {
    if (inProcess) {
      await inProcess.stop();
      inProcess = undefined;
    } else {
      await stopDaemon(stateDir);
    }
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await halt();
    } finally {
      await wipeKernel(config.prefix);
      fs.rmSync(stateDir, { recursive: true, force: true });
      fs.rmSync(registryFile, { force: true });
    }
  };

  let startMs: number;
  try {
    startMs = await start();
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }

  const endpoints = endpointsFor(config);
  // The lab's Keystone session (instance.json's credentials); a new one after each restart.
  let token = labToken(config, { retries: 0 });
  const authHeaders = tokenHeaders(() => token?.());
  const api = new HttpClient({ baseUrl: endpoints.lab, retries: 0, headers: authHeaders });
  const topology = async () => (await api.get<TopologyView>("/lab/topology")).body;
  const netnsOf = async (target: string) => (target.startsWith(`${config.prefix}-`) ? target : findWorkload(await topology(), target).netns);

  const kube = endpoints.kubernetes ? new KubernetesClient(loadKubeconfig(endpoints.kubernetes.kubeconfig).options) : undefined;
  const needKube = (): KubernetesClient => labKube(lab);

  const lab: TestLab = {
    config,
    endpoints,
    name: config.name,
    prefix: config.prefix,
    stateDir,
    endpointsFile: path.join(stateDir, "endpoints.json"),
    startMs,
    api,
    authHeaders,
    netnsOf,
    async inLab(target, argv) {
      return netns.exec(await netnsOf(target), argv, { allowFail: true });
    },
    async ping(from, ip, pingOpts) {
      return kernelPing(await netnsOf(from), ip, pingOpts);
    },
    topology,
    status: async () => (await api.get<LabStatus>("/lab/status")).body,
    namespaces: () => netns.list(`${config.prefix}-`),
    kube,
    createPod: (name, podOpts) => createPod(needKube(), name, podOpts),
    async deletePod(name, podOpts = {}) {
      const pod = await getPod(needKube(), name, podOpts.namespace);
      const ns = pod ? netnsAnnotation(pod) : undefined;
      await deletePod(needKube(), name, podOpts.namespace);
      if (ns) await eventually(() => !netns.exists(ns), { what: `the netns ${ns} of pod ${name} to be removed`, timeoutMs: 30_000 });
    },
    async restart(whileDown) {
      await halt();
      if (!opts.inProcess && runningDaemonPid(stateDir) !== undefined) throw new Error("the lab daemon did not stop");
      await whileDown?.();
      const ms = await start();
      token = labToken(config, { retries: 0 });
      return ms;
    },
    stop,
  };
  return lab;
}
