// The lab's pod runtime API: what a kubelet + CNI would do for a pod, reduced to a netns with eth0
// on the pod network. Pods are persisted; deleting one first closes its NSM connections, because
// the forwarders need the pod's netns to tear their interfaces down cleanly.
//
// Commit order: the pod's record (Pending) is written before the runtime makes anything, and marked
// Running once the namespace is there, so a crash at any point leaves a record that owns whatever
// was made. restore() at start completes every recorded pod and removes pods the runtime holds
// that no record owns.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type { DatabaseSync } from "node:sqlite";
import { LAB_CRASH_ENV, crashPoint } from "../../lib/crashPoint.ts";
import { ApiError, createJsonServer, objectBody } from "../../lib/http/server.ts";
import type { ApiRequest, Route } from "../../lib/http/server.ts";
import { podNetns } from "../dataplane/names.ts";
import type { PodRuntime } from "../dataplane/types.ts";
import { checkK8sName, checkNetnsName } from "../../lib/validate/names.ts";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import type { KeystoneCheck } from "../keystoneAuth.ts";
import { PodStore } from "./store.ts";

export type { PodRuntime };

export interface PodConnectionCloser {
  closeByPod(podName: string): Promise<void>;
}

export interface PodsServerOptions {
  db: DatabaseSync;
  runtime: PodRuntime;
  nsm: PodConnectionCloser;
  /** The k8s nodes pods may run on, in round-robin order. */
  nodes: string[];
  /** The instance's kernel prefix: a pod lives in netns "<prefix>-pod-<name>", which bounds the name length. */
  prefix: string;
  /** More routes on the same port (the lab's introspection). */
  extraRoutes?: Route[];
  /** The lab's Keystone token check, on every route (its open paths aside); none with auth "noauth". */
  auth?: KeystoneCheck;
  log?: (line: string) => void;
}

export interface PodsService {
  server: http.Server;
  store: PodStore;
  /**
   * After a restart: re-creates the kernel side of every stored pod (finishing the Pending ones)
   * and removes the pods the runtime holds without a record; idempotent.
   */
  restore(): Promise<void>;
}

const POD_FIELDS = new Set(["name", "node", "annotations"]);
const NO_ETH0 = { ip: "", prefixLength: 0, mac: "" };

/** metadata.annotations as Kubernetes takes them: names (optionally prefix/name) to strings. */
function annotations(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ApiError(400, "POST /pods: annotations must map names to strings");
  for (const [k, v] of Object.entries(raw)) {
    if (!/^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/.test(k)) {
      throw new ApiError(400, `POST /pods: annotation name ${JSON.stringify(k)} is not a qualified name (an optional DNS subdomain prefix and "/", then 1..63 letters, digits, '-', '_' or '.')`);
    }
    if (typeof v !== "string") throw new ApiError(400, `POST /pods: annotation ${k} must be a string, got ${JSON.stringify(v)}`);
  }
  return { ...(raw as Record<string, string>) };
}

function podName(raw: unknown, prefix: string, where: string): string {
  if (typeof raw !== "string" || raw === "") throw new ApiError(400, `${where}: pod name must be a non-empty string`);
  const problem = checkK8sName(raw) ?? checkNetnsName(`${prefix}-pod-${raw}`);
  if (problem) throw new ApiError(400, `${where}: invalid pod name: ${problem}`);
  return raw;
}

export function createPodsServer(opts: PodsServerOptions): PodsService {
  const store = new PodStore(opts.db);
  const queue = new KeyedQueue();
  const log = opts.log ?? (() => {});
  if (opts.nodes.length === 0) throw new Error("the pod runtime needs at least one k8s node");
  let nextNode = store.count();

  const pickNode = (requested: unknown): string => {
    if (requested === undefined || requested === null) return opts.nodes[nextNode++ % opts.nodes.length]!;
    if (typeof requested !== "string" || !opts.nodes.includes(requested)) {
      throw new ApiError(400, `node must be one of the k8s nodes ${opts.nodes.join(", ")}; got ${JSON.stringify(requested)}`);
    }
    return requested;
  };

  const create = async (req: ApiRequest) => {
    const body = objectBody(req);
    const unknown = Object.keys(body).filter((k) => !POD_FIELDS.has(k));
    if (unknown.length > 0) throw new ApiError(400, `unknown field(s) ${unknown.join(", ")}; a pod takes {name, node?, annotations?}`);
    const name = podName(body.name, opts.prefix, "POST /pods");
    const notes = annotations(body.annotations);
    const node = pickNode(body.node);
    return queue.run(name, async () => {
      if (store.get(name)) throw new ApiError(409, `pod "${name}" already exists`);
      const uid = randomUUID();
      // The record first: whatever the runtime makes from here on has an owner.
      store.insert({ name, node, netns: podNetns(opts.prefix, name), uid, eth0: NO_ETH0, status: "Pending", createdAt: new Date().toISOString(), annotations: notes });
      crashPoint("pods.recorded", LAB_CRASH_ENV);
      let made: Awaited<ReturnType<PodRuntime["createPod"]>>;
      try {
        made = await opts.runtime.createPod({ name, uid, node });
      } catch (e) {
        // A half-built pod (netns without eth0) must not linger under a name the client will retry.
        await opts.runtime.deletePod(name).catch(() => {});
        store.remove(name);
        throw e;
      }
      crashPoint("pods.created", LAB_CRASH_ENV);
      store.markRunning(name, made.netns, made.eth0);
      log(`pod ${name} created on ${node} (${made.eth0.ip})`);
      return { status: 201, body: store.get(name)! };
    });
  };

  const remove = async (req: ApiRequest) => {
    const name = podName(req.params.name ?? "", opts.prefix, "DELETE /pods");
    return queue.run(name, async () => {
      await opts.nsm.closeByPod(name);
      await opts.runtime.deletePod(name);
      const existed = store.remove(name);
      if (existed) log(`pod ${name} deleted`);
      return { body: { name, deleted: existed } };
    });
  };

  const get = (req: ApiRequest) => {
    const name = podName(req.params.name ?? "", opts.prefix, "GET /pods");
    const pod = store.get(name);
    if (!pod) throw new ApiError(404, `pod "${name}" not found`);
    return { body: pod };
  };

  const server = createJsonServer({
    name: "pods",
    routes: [
      { method: "POST", pattern: "/pods", handler: create },
      { method: "GET", pattern: "/pods", handler: () => ({ body: { pods: store.list() } }) },
      { method: "GET", pattern: "/pods/:name", handler: get },
      { method: "DELETE", pattern: "/pods/:name", handler: remove },
      ...(opts.extraRoutes ?? []),
    ],
    ...(opts.auth ? { before: opts.auth.require } : {}),
  });

  const restore = async () => {
    const recorded = new Set(store.list().map((p) => p.name));
    for (const name of opts.runtime.listPods?.() ?? []) {
      if (recorded.has(name)) continue;
      await queue.run(name, async () => {
        log(`removing pod ${name}: the runtime holds it but no pod record owns it`);
        await opts.nsm.closeByPod(name);
        await opts.runtime.deletePod(name);
      });
    }
    for (const pod of store.list()) {
      await queue.run(pod.name, async () => {
        const made = await opts.runtime.createPod({ name: pod.name, uid: pod.uid, node: pod.node });
        if (pod.status !== "Running" || made.netns !== pod.netns || made.eth0.ip !== pod.eth0.ip || made.eth0.mac !== pod.eth0.mac) {
          if (pod.status !== "Running") log(`pod ${pod.name}: finishing its creation, interrupted before the restart`);
          store.markRunning(pod.name, made.netns, made.eth0);
        }
      });
    }
  };

  return { server, store, restore };
}
