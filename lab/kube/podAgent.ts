// The kubelet's pod duties for the lab's k8s nodes: a pod bound to one of them becomes a lab pod
// (a network namespace with eth0 on the pod network, made by the lab's pod runtime), and its
// status is written back (Running, the conditions, IPs, container statuses: containers are not
// run, as in kwok). A pod with NSM's injected nsc-init (lab/kube/admission.ts) gets its NSM
// interfaces first (lab/kube/nscInit.ts) and is Initialized and Ready only once they are up; a
// failed attempt is a Warning event on the pod and a retry with backoff, as a crashing init
// container. A pod being deleted loses its NSM connections and its namespace, then the agent
// finishes the delete with grace period 0. start() reconciles the API server, the stored rows and
// the runtime.
import { LAB_CRASH_ENV, crashPoint } from "../../lib/crashPoint.ts";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import type { ContainerStatus, Condition, KubernetesClient, Pod } from "../../wire/kubernetes.ts";
import { KubernetesConflict, NETNS_ANNOTATION, resourcePath, WatchExpired } from "../../wire/kubernetes.ts";
import type { PodRuntime } from "../dataplane/types.ts";
import type { ContainerState, ProcessPods } from "./processPods.ts";
import { hasProcessContainers } from "./processPods.ts";
import type { KubePodRecord, KubePodStore } from "./podStore.ts";
import type { NscClient } from "./nscInit.ts";
import { nscInitContainer, runNscInit } from "./nscInit.ts";
import { runtimeNameOf } from "./podStore.ts";

export interface PodAgentOptions {
  client: KubernetesClient;
  /** The lab's k8s nodes by name, with their underlay address. */
  nodes: Map<string, { ip: string }>;
  runtime: PodRuntime;
  store: KubePodStore;
  /** Closes the NSM connections of a runtime pod: the forwarders need its netns to tear down. */
  closeConnections(runtimeName: string): Promise<void>;
  /** The containers the lab runs as processes (known images); its onChange must schedule the pod (see schedule()). */
  processes: ProcessPods;
  /** The NSMgr the nsc-init containers request their interfaces from. */
  nsc: NscClient;
  log(line: string): void;
}

export interface PodAgent {
  /** Reconciles every pod, then watches; resolves once the first reconcile is done. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Reconciles one pod soon (a process container changed). */
  schedule(namespace: string, name: string): void;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An init container the lab runs (nsc-init) that has not succeeded yet. */
export interface InitFailure {
  container: string;
  message: string;
  restarts: number;
  at: string;
}

/** The kubelet's back-off for a failing init container: 1 s, doubling, at most 30 s. */
const initBackoffMs = (restarts: number) => Math.min(30_000, 1000 * 2 ** Math.max(0, restarts - 1));

/**
 * The status a kubelet reports for a running pod: containers the lab does not run show as
 * running and ready (as in kwok); those it runs as processes (`live`) as they are.
 */
export function runningStatus(
  pod: Pod,
  hostIP: string,
  podIP: string,
  live: (container: string) => ContainerState | undefined = () => undefined,
  initFailure?: InitFailure,
): NonNullable<Pod["status"]> {
  const old = pod.status ?? {};
  const startTime = old.startTime ?? now();
  const states = new Map(pod.spec.containers.map((c) => [c.name, live(c.name)]));
  const allReady = [...states.values()].every((st) => st === undefined || st.ready);
  const since = (type: string, status: "True" | "False"): string => {
    const was = old.conditions?.find((c) => c.type === type);
    return was?.status === status && was.lastTransitionTime ? was.lastTransitionTime : status === "True" && !was ? startTime : now();
  };
  const cond = (type: string, status: "True" | "False" = "True"): Condition => ({ type, status, lastProbeTime: null, lastTransitionTime: since(type, status) });
  const scheduled = old.conditions?.find((c) => c.type === "PodScheduled") ?? cond("PodScheduled");
  const containerStatus = (c: { name: string; image?: string }, running: boolean): ContainerStatus => {
    const st = running ? states.get(c.name) : undefined;
    return {
      name: c.name,
      image: c.image ?? "",
      imageID: "",
      containerID: `tfmesh-lab://${pod.metadata.uid}/${c.name}`,
      ready: st ? st.ready : running,
      started: st ? st.running : running,
      restartCount: st?.restartCount ?? 0,
      state: st
        ? st.running
          ? { running: { startedAt: st.startedAt } }
          : { waiting: { reason: "CrashLoopBackOff" } }
        : running
          ? { running: { startedAt: startTime } }
          : { terminated: { exitCode: 0, reason: "Completed", startedAt: startTime, finishedAt: startTime } },
    };
  };
  const placed = { hostIP, hostIPs: [{ ip: hostIP }], podIP, podIPs: [{ ip: podIP }], startTime };
  if (initFailure) {
    // As a kubelet shows a crashing init container: Pending, not Initialized, the app's containers waiting.
    const failed = (c: { name: string; image?: string }): ContainerStatus => ({
      ...containerStatus(c, false),
      ...(c.name === initFailure.container
        ? { restartCount: initFailure.restarts, state: { terminated: { exitCode: 1, reason: "Error", message: initFailure.message, startedAt: initFailure.at, finishedAt: initFailure.at } } }
        : {}),
    });
    const waiting = (c: { name: string; image?: string }): ContainerStatus => ({ ...containerStatus(c, false), ready: false, started: false, state: { waiting: { reason: "PodInitializing" } } });
    const notInitialized: Condition = { ...cond("Initialized", "False"), reason: "ContainersNotInitialized", message: `containers with incomplete status: [${initFailure.container}]` };
    return {
      phase: "Pending",
      conditions: [cond("PodReadyToStartContainers"), notInitialized, cond("Ready", "False"), cond("ContainersReady", "False"), scheduled],
      ...placed,
      containerStatuses: pod.spec.containers.map(waiting),
      initContainerStatuses: (pod.spec.initContainers ?? []).map(failed),
    };
  }
  const readiness = allReady ? "True" : "False";
  return {
    phase: "Running",
    conditions: [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready", readiness), cond("ContainersReady", readiness), scheduled],
    ...placed,
    containerStatuses: pod.spec.containers.map((c) => containerStatus(c, true)),
    ...(pod.spec.initContainers?.length ? { initContainerStatuses: pod.spec.initContainers.map((c) => containerStatus(c, false)) } : {}),
  };
}

/** Whether the pod's status says its init container `name` succeeded. */
const initSucceeded = (pod: Pod, name: string): boolean => pod.status?.initContainerStatuses?.find((s) => s.name === name)?.state.terminated?.exitCode === 0;

/** What of a status the agent keeps true: when it already says this, nothing is patched. */
function gist(s: Pod["status"]): string {
  if (!s) return "";
  const conditions = (s.conditions ?? []).filter((c) => ["Initialized", "Ready", "ContainersReady"].includes(c.type)).map((c) => `${c.type}=${c.status}`).sort();
  const state = (c: ContainerStatus) => `${c.name}:${c.ready}:${c.restartCount}:${c.state.running ? `run@${c.state.running.startedAt}` : Object.keys(c.state).join()}:${c.state.terminated?.exitCode ?? ""}`;
  const containers = (s.containerStatuses ?? []).map(state).sort();
  const inits = (s.initContainerStatuses ?? []).map(state).sort();
  return JSON.stringify([s.phase, s.hostIP, s.podIP, conditions, containers, inits]);
}

export function createPodAgent(o: PodAgentOptions): PodAgent {
  const queue = new KeyedQueue();
  const pending = new Set<string>();
  const abort = new AbortController();
  let watching: Promise<void> | undefined;
  /** nsc-init attempts that failed, by pod uid (a kubelet keeps restart counts in memory too). */
  const initFailures = new Map<string, InitFailure>();

  /** A Warning event on the pod, as `kubectl describe pod` shows it. */
  const warn = async (pod: Pod, reason: string, message: string) => {
    const namespace = pod.metadata.namespace ?? "default";
    const t = now();
    await o.client
      .create(resourcePath("v1", "events", namespace), {
        metadata: { generateName: `${pod.metadata.name}.`, namespace },
        involvedObject: { apiVersion: "v1", kind: "Pod", namespace, name: pod.metadata.name, uid: pod.metadata.uid, fieldPath: "spec.initContainers{nsc-init}" },
        reason,
        message,
        type: "Warning",
        source: { component: "tfmesh-lab-kubelet", host: pod.spec.nodeName },
        firstTimestamp: t,
        lastTimestamp: t,
        count: 1,
      })
      .catch((e: Error) => o.log(`pod ${namespace}/${pod.metadata.name}: recording event ${reason} failed: ${e.message}`));
  };

  /** nsc-init's work, once per pod: undefined when the interfaces are up, else the failure (retried later). */
  const initNsm = async (pod: Pod, place: { node: string; netns: string }): Promise<InitFailure | undefined> => {
    const container = nscInitContainer(pod);
    const uid = pod.metadata.uid ?? "";
    if (!container || initSucceeded(pod, container.name)) return undefined;
    const namespace = pod.metadata.namespace ?? "default";
    try {
      const made = await runNscInit(o.nsc, pod, container, place);
      // Test hook: the interfaces are up and the pod's status does not say so yet.
      crashPoint("kube.nsc-requested", LAB_CRASH_ENV);
      initFailures.delete(uid);
      const names = made.map((c) => `${c.mechanism?.parameters?.name ?? "?"} (${c.network_service})`).join(", ");
      o.log(`pod ${namespace}/${pod.metadata.name}: nsc-init: ${made.length} NSM interface(s) up: ${names}`);
      return undefined;
    } catch (e) {
      const was = initFailures.get(uid);
      const failure: InitFailure = { container: container.name, message: (e as Error).message, restarts: (was?.restarts ?? -1) + 1, at: now() };
      initFailures.set(uid, failure);
      const retryMs = initBackoffMs(failure.restarts + 1);
      o.log(`pod ${namespace}/${pod.metadata.name}: nsc-init failed: ${failure.message}; again in ${retryMs / 1000} s`);
      await warn(pod, "NsmRequestFailed", failure.message);
      setTimeout(() => abort.signal.aborted || schedule(namespace, pod.metadata.name), retryMs).unref();
      return failure;
    }
  };

  const teardown = async (r: KubePodRecord, why: string) => {
    initFailures.delete(r.uid);
    await o.closeConnections(r.runtimeName);
    await o.runtime.deletePod(r.runtimeName);
    o.store.remove(r.runtimeName);
    o.log(`pod ${r.namespace}/${r.name}: namespace removed (${why})`);
  };

  const reconcile = async (namespace: string, name: string): Promise<void> => {
    const podPath = resourcePath("v1", "pods", namespace, name);
    const pod = await o.client.get<Pod>(podPath);
    const record = o.store.byPod(namespace, name);
    const node = pod?.spec.nodeName !== undefined ? o.nodes.get(pod.spec.nodeName) : undefined;
    const runningUid = o.processes.uidOf(namespace, name);
    if (runningUid !== undefined && (!pod || !node || runningUid !== pod.metadata.uid)) await o.processes.stop(runningUid, 0);
    if (!pod || !node) {
      if (record) await teardown(record, pod ? "moved off the lab's nodes" : "the pod is gone");
      return;
    }
    if (record && record.uid !== pod.metadata.uid) await teardown(record, "replaced by a pod of the same name");
    if (pod.metadata.deletionTimestamp !== undefined) {
      // SIGTERM, then the pod's grace period (a forwarder unregisters in it).
      const graceSeconds = pod.metadata.deletionGracePeriodSeconds ?? (pod.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 30;
      await o.processes.stop(pod.metadata.uid ?? "", graceSeconds * 1000);
      const r = o.store.byPod(namespace, name);
      if (r) await teardown(r, "the pod is being deleted");
      // The kubelet's last word: the namespace is gone, so the API server may drop the pod now.
      try {
        await o.client.delete(podPath, { gracePeriodSeconds: 0, uid: pod.metadata.uid });
      } catch (e) {
        if (!(e instanceof KubernetesConflict)) throw e;
      }
      return;
    }
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return;
    let podIP: string;
    let initFailure: InitFailure | undefined;
    if (pod.spec.hostNetwork) {
      podIP = node.ip;
      if (hasProcessContainers(pod)) await o.processes.ensure(pod, { hostIP: node.ip, podIP });
    } else {
      const runtimeName = runtimeNameOf(namespace, name);
      // The row first: whatever the runtime makes from here on has an owner.
      o.store.put({ runtimeName, namespace, name, uid: pod.metadata.uid ?? "", node: pod.spec.nodeName! });
      crashPoint("kube.pod-recorded", LAB_CRASH_ENV);
      const made = await o.runtime.createPod({ name: runtimeName, uid: pod.metadata.uid ?? "", node: pod.spec.nodeName! });
      crashPoint("kube.pod-created", LAB_CRASH_ENV);
      podIP = made.eth0.ip;
      if (!record || record.uid !== pod.metadata.uid) o.log(`pod ${namespace}/${name} on ${pod.spec.nodeName}: ${made.netns} (${podIP})`);
      // As a CNI records what it made (Multus's network-status): the netns, before the pod turns Ready.
      if (pod.metadata.annotations?.[NETNS_ANNOTATION] !== made.netns) {
        await o.client.patch(podPath, { metadata: { uid: pod.metadata.uid, annotations: { [NETNS_ANNOTATION]: made.netns } } });
      }
      initFailure = await initNsm(pod, { node: pod.spec.nodeName!, netns: made.netns });
    }
    const uid = pod.metadata.uid ?? "";
    const status = runningStatus(pod, node.ip, podIP, (c) => o.processes.state(uid, c), initFailure);
    if (gist(pod.status) === gist(status)) return;
    await o.client.patch(resourcePath("v1", "pods", namespace, name, "status"), { status });
  };

  /** Coalesces: one reconcile queued per pod at a time; an event during a run queues the next. */
  const schedule = (namespace: string, name: string) => {
    const k = key(namespace, name);
    if (pending.has(k)) return;
    pending.add(k);
    void queue
      .run(k, async () => {
        pending.delete(k);
        await reconcile(namespace, name);
      })
      .catch((e: Error) => {
        if (abort.signal.aborted) return;
        o.log(`pod ${k}: ${e.message}; retrying in 2 s`);
        setTimeout(() => abort.signal.aborted || schedule(namespace, name), 2000).unref();
      });
  };

  /** Every pod the API server has and every pod a row remembers, once; returns the list's resourceVersion. */
  const resync = async (): Promise<string> => {
    const list = await o.client.list<Pod>(resourcePath("v1", "pods"));
    const seen = new Set<string>();
    for (const p of list.items) {
      seen.add(key(p.metadata.namespace ?? "default", p.metadata.name));
      if (p.spec.nodeName !== undefined && o.nodes.has(p.spec.nodeName)) schedule(p.metadata.namespace ?? "default", p.metadata.name);
    }
    for (const r of o.store.list()) if (!seen.has(key(r.namespace, r.name))) schedule(r.namespace, r.name);
    return list.metadata.resourceVersion;
  };

  const watchLoop = async (fromVersion: string) => {
    let rv = fromVersion;
    while (!abort.signal.aborted) {
      try {
        for await (const ev of o.client.watch<Pod>(resourcePath("v1", "pods"), { resourceVersion: rv, signal: abort.signal })) {
          if (ev.type === "ERROR") continue;
          rv = ev.object.metadata?.resourceVersion ?? rv;
          if (ev.type === "BOOKMARK") continue;
          const p = ev.object as Pod;
          const ours = p.spec?.nodeName !== undefined && o.nodes.has(p.spec.nodeName);
          if (ours || o.store.byPod(p.metadata.namespace ?? "default", p.metadata.name)) schedule(p.metadata.namespace ?? "default", p.metadata.name);
        }
      } catch (e) {
        if (abort.signal.aborted) return;
        if (e instanceof WatchExpired) {
          rv = await resync().catch(() => rv);
          continue;
        }
        o.log(`pod watch: ${(e as Error).message}; watching again in 1 s`);
        await sleep(1000);
      }
    }
  };

  return {
    async start() {
      const rv = await resync();
      await queue.idle();
      watching = watchLoop(rv);
    },
    async stop() {
      abort.abort();
      await watching;
      await queue.idle();
      await o.processes.stopAll();
    },
    schedule,
  };
}
