// The images the lab's kubelet runs: a hostNetwork container whose image is the forwarder's
// (`tfmesh/forwarder`, any tag or digest, e.g. tfmesh/forwarder:0.3.0) runs as `tfmesh forwarder`
// in its node's netns, with the environment a kubelet would give it (containerEnv.ts), supervised
// as the lab's own processes are (lab/nsm/forwarderProcesses.ts: started again on death with
// backoff, lines into the lab log as <namespace>/<pod>/<container>). Its readiness is its gRPC
// probe when the spec has one (grpcProbe.ts, in the node's netns), else that it runs. A pod being
// deleted gets SIGTERM, then SIGKILL after its grace period. Other images are not run.
import { execFile } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { KubernetesClient, Pod } from "../../wire/kubernetes.ts";
import type { EnvVar } from "../../nsm/forwarderd/manifest.ts";
import { FORWARDER_PROGRAM, superviseInNetns } from "../nsm/forwarderProcesses.ts";
import type { NetnsChild } from "../nsm/forwarderProcesses.ts";
import { containerEnv } from "./containerEnv.ts";
import { FORWARDER_GID } from "../spire/identities.ts";

/** The forwarder image's repository; every tag of it is run as `tfmesh forwarder`. */
export const FORWARDER_IMAGE = "tfmesh/forwarder";

export interface ProcessContainer {
  name: string;
  image?: string;
  env?: EnvVar[];
  readinessProbe?: { grpc?: { port: number }; periodSeconds?: number; initialDelaySeconds?: number };
}

/** The state a kubelet reports of one container it runs. */
export interface ContainerState {
  running: boolean;
  ready: boolean;
  restartCount: number;
  startedAt: string;
}

export function runsAsProcess(image: string | undefined): boolean {
  if (!image) return false;
  const repo = image.replace(/^docker\.io\//, "").replace(/@.*$/, "").replace(/:[^/:]*$/, "");
  return repo === FORWARDER_IMAGE;
}

/** Whether the lab runs some container of this pod. */
export const hasProcessContainers = (pod: Pod): boolean => pod.spec.hostNetwork === true && pod.spec.containers.some((c) => runsAsProcess(c.image));

export interface ProcessPodsOptions {
  client: KubernetesClient;
  prefix: string;
  log(line: string): void;
  /** A container started, died, or its readiness changed: the pod's status is due. */
  onChange(namespace: string, name: string): void;
}

export interface ProcessPods {
  /** Starts the pod's process containers unless this incarnation (uid) already runs. */
  ensure(pod: Pod, ips: { hostIP: string; podIP: string }): Promise<void>;
  /** The state of a container the lab runs for this pod incarnation. */
  state(uid: string, container: string): ContainerState | undefined;
  /** The uid of the incarnation of namespace/name that runs, if any. */
  uidOf(namespace: string, name: string): string | undefined;
  /** SIGTERM to the pod's processes, SIGKILL after graceMs. */
  stop(uid: string, graceMs: number): Promise<void>;
  /** Stops every process; ensure() starts none after it (the daemon is stopping). */
  stopAll(): Promise<void>;
}

const PROBE = fileURLToPath(new URL(`./grpcProbe${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => fs.existsSync(p)) ?? "ip";
/** Until the first success a probe runs this often, then every periodSeconds. */
const UNREADY_PROBE_MS = 500;

interface Entry {
  /** Set once superviseInNetns returns (its first start reports before). */
  child?: NetnsChild;
  ready: boolean;
  probe?: NodeJS.Timeout;
  startedIso: string;
}

interface Running {
  uid: string;
  namespace: string;
  name: string;
  containers: Map<string, Entry>;
  stopped: boolean;
}

const iso = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

export function createProcessPods(o: ProcessPodsOptions): ProcessPods {
  const pods = new Map<string, Running>();
  let closed = false;

  const probeOnce = (netns: string, port: number) =>
    new Promise<boolean>((resolve) => {
      execFile(IP, ["netns", "exec", netns, process.execPath, PROBE, String(port)], { timeout: 5000, env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } }, (err) => resolve(!err));
    });

  const startProbe = (r: Running, c: ProcessContainer, netns: string) => {
    const entry = r.containers.get(c.name)!;
    const grpc = c.readinessProbe?.grpc;
    if (!grpc) return;
    const periodMs = (c.readinessProbe?.periodSeconds ?? 10) * 1000;
    const tick = async () => {
      if (r.stopped) return;
      const ok = entry.child?.pid() !== undefined && (await probeOnce(netns, grpc.port));
      if (r.stopped) return;
      if (ok !== entry.ready) {
        entry.ready = ok;
        o.log(`${r.namespace}/${r.name}/${c.name}: readiness probe (grpc :${grpc.port}) ${ok ? "passes" : "fails"}`);
        o.onChange(r.namespace, r.name);
      }
      entry.probe = setTimeout(() => void tick(), ok ? periodMs : UNREADY_PROBE_MS);
      entry.probe.unref();
    };
    entry.probe = setTimeout(() => void tick(), (c.readinessProbe?.initialDelaySeconds ?? 0) * 1000);
    entry.probe.unref();
  };

  return {
    async ensure(pod, ips) {
      const uid = pod.metadata.uid ?? "";
      if (closed || pods.has(uid)) return;
      const namespace = pod.metadata.namespace ?? "default";
      const name = pod.metadata.name;
      const netns = `${o.prefix}-${pod.spec.nodeName}`;
      const wanted = (pod.spec.containers as ProcessContainer[]).filter((c) => runsAsProcess(c.image));
      // Every environment first: a missing secret starts nothing (the agent tries again).
      const envs = await Promise.all(wanted.map((c) => containerEnv(o.client, pod, c.env ?? [], ips)));
      if (closed || pods.has(uid)) return;
      const r: Running = { uid, namespace, name, containers: new Map(), stopped: false };
      pods.set(uid, r);
      wanted.forEach((c, i) => {
        const entry: Entry = { ready: false, startedIso: iso() };
        const onChange = () => {
          const running = entry.child === undefined || entry.child.pid() !== undefined;
          if (running) entry.startedIso = iso();
          // A (re)started or dead process is unready until its probe passes again.
          entry.ready = !c.readinessProbe?.grpc && running;
          if (!r.stopped) o.onChange(namespace, name);
        };
        r.containers.set(c.name, entry);
        entry.child = superviseInNetns({ name: `${namespace}/${name}/${c.name}`, netns, argv: [FORWARDER_PROGRAM, "forwarder"], env: envs[i]!, gid: FORWARDER_GID, log: o.log, onChange });
        if (!c.readinessProbe?.grpc) entry.ready = entry.child.pid() !== undefined;
        startProbe(r, c, netns);
      });
      o.log(`pod ${namespace}/${name}: running ${wanted.map((c) => `${c.name} (${c.image})`).join(", ")} in ${netns}`);
    },
    state(uid, container) {
      const e = pods.get(uid)?.containers.get(container);
      if (!e?.child) return undefined;
      const running = e.child.pid() !== undefined;
      return { running, ready: running && e.ready, restartCount: e.child.restarts(), startedAt: e.startedIso };
    },
    uidOf: (namespace, name) => [...pods.values()].find((r) => r.namespace === namespace && r.name === name)?.uid,
    async stop(uid, graceMs) {
      const r = pods.get(uid);
      if (!r) return;
      r.stopped = true;
      for (const e of r.containers.values()) clearTimeout(e.probe);
      await Promise.all([...r.containers.values()].map((e) => e.child?.stop(graceMs)));
      pods.delete(uid);
      o.log(`pod ${r.namespace}/${r.name}: processes stopped`);
    },
    async stopAll() {
      closed = true;
      await Promise.all([...pods.keys()].map((uid) => this.stop(uid, 10_000)));
    },
  };
}
