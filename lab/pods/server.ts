// The lab's pod runtime API: what a kubelet + CNI would do for a pod, reduced to a netns with eth0
// on the pod network. Pods are persisted; deleting one first closes its NSM connections, because
// the forwarders need the pod's netns to tear their interfaces down cleanly.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type { DatabaseSync } from "node:sqlite";
import { ApiError, createJsonServer, objectBody } from "../../lib/http/server.ts";
import type { ApiRequest, Route } from "../../lib/http/server.ts";
import type { PodRuntime } from "../dataplane/types.ts";
import { checkK8sName, checkNetnsName } from "../../lib/validate/names.ts";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import { PodStore } from "./store.ts";
import type { PodRecord } from "./store.ts";

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
  log?: (line: string) => void;
}

export interface PodsService {
  server: http.Server;
  store: PodStore;
  /** Re-creates the kernel side of every stored pod (after a restart); idempotent. */
  restore(): Promise<void>;
}

const POD_FIELDS = new Set(["name", "node"]);

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
    if (unknown.length > 0) throw new ApiError(400, `unknown field(s) ${unknown.join(", ")}; a pod takes {name, node?}`);
    const name = podName(body.name, opts.prefix, "POST /pods");
    const node = pickNode(body.node);
    return queue.run(name, async () => {
      if (store.get(name)) throw new ApiError(409, `pod "${name}" already exists`);
      const uid = randomUUID();
      let made: Awaited<ReturnType<PodRuntime["createPod"]>>;
      try {
        made = await opts.runtime.createPod({ name, uid, node });
      } catch (e) {
        // A half-built pod (netns without eth0) must not linger under a name the client will retry.
        await opts.runtime.deletePod(name).catch(() => {});
        throw e;
      }
      const record: PodRecord = { name, node, netns: made.netns, uid, eth0: made.eth0, status: "Running", createdAt: new Date().toISOString() };
      try {
        store.insert(record);
      } catch (e) {
        await opts.runtime.deletePod(name).catch(() => {});
        throw e;
      }
      log(`pod ${name} created on ${node} (${made.eth0.ip})`);
      return { status: 201, body: record };
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
  });

  const restore = async () => {
    for (const pod of store.list()) {
      await queue.run(pod.name, async () => {
        const made = await opts.runtime.createPod({ name: pod.name, uid: pod.uid, node: pod.node });
        if (made.netns !== pod.netns || made.eth0.ip !== pod.eth0.ip || made.eth0.mac !== pod.eth0.mac) {
          store.updateNetwork(pod.name, made.netns, made.eth0);
        }
      });
    }
  };

  return { server, store, restore };
}
