// Fake pod runtime API, as the lab's (lab/pods/server.ts over its pod runtime): POST /pods checks
// the fields, the name and the node as the lab does (400), 409 for a taken name, 201 with the pod
// record (with the annotations it was given); a pod lives in netns "tfm-pod-<name>" with eth0 on k8s-1's pod subnet (the lowest free
// 10.244.1.<n>/16, n >= 2, MAC 0a:58 + the address, as the CNI bridge plugin makes it);
// GET /pods answers {pods: [...]}; DELETE closes the pod's NSM connections first and answers
// {name, deleted}, also when the pod was gone. With a token validator, every call needs a valid
// X-Auth-Token, as the lab's with auth "keystone".
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { ApiError, createJsonServer, objectBody } from "../../../lib/http/server.ts";
import { checkK8sName, checkNetnsName } from "../../../lib/validate/names.ts";
import { POD_PLEN, podAddress, podMac, podNetns } from "../../../lab/dataplane/names.ts";
import { requireKeystoneToken } from "../../../lab/keystoneAuth.ts";
import type { TokenValidator } from "../../../lab/keystoneAuth.ts";
import type { PodInfo } from "../../../wire/pods.ts";
import { K8S_NODES } from "./mount.ts";

/** The lab's pod record; `createdAt` may be left out by a test that puts a pod in place itself. */
export type FakePod = PodInfo & { createdAt?: string };

export interface PodsFakeState {
  pods: Map<string, FakePod>;
}

const PREFIX = "tfm";
const FIELDS = new Set(["name", "node", "annotations"]);

function podName(raw: unknown, where: string): string {
  if (typeof raw !== "string" || raw === "") throw new ApiError(400, `${where}: pod name must be a non-empty string`);
  const problem = checkK8sName(raw) ?? checkNetnsName(podNetns(PREFIX, raw));
  if (problem) throw new ApiError(400, `${where}: invalid pod name: ${problem}`);
  return raw;
}

/** `validToken`: the lab's Keystone check (auth "keystone"), refusing what it refuses with its 401. */
export function fakePods(state: PodsFakeState, opts: { closeByPod: (pod: string) => void; validToken?: TokenValidator }): http.Server {
  let placed = state.pods.size;
  const known = (name: string) => {
    const p = state.pods.get(name);
    if (!p) throw new ApiError(404, `pod "${name}" not found`);
    return p;
  };
  const record = (p: FakePod) => ({ ...p, createdAt: p.createdAt ?? new Date(0).toISOString(), annotations: p.annotations ?? {} });

  const eth0For = (node: string) => {
    const k = K8S_NODES.indexOf(node);
    const used = new Set([...state.pods.values()].filter((p) => p.node === node).map((p) => p.eth0.ip));
    for (let h = 2; h <= 254; h++) {
      const ip = podAddress(k, h);
      if (!used.has(ip)) return { ip, prefixLength: POD_PLEN, mac: podMac(ip) };
    }
    throw new ApiError(500, `node ${node} has no free pod address left in ${podAddress(k, 0)}/24`);
  };

  return createJsonServer({
    name: "fake-pods",
    ...(opts.validToken ? { before: requireKeystoneToken(opts.validToken).require } : {}),
    routes: [
      {
        method: "POST",
        pattern: "/pods",
        handler: (req) => {
          const b = objectBody(req);
          const unknown = Object.keys(b).filter((k) => !FIELDS.has(k));
          if (unknown.length > 0) throw new ApiError(400, `unknown field(s) ${unknown.join(", ")}; a pod takes {name, node?, annotations?}`);
          const name = podName(b.name, "POST /pods");
          const annotations = b.annotations ?? {};
          if (typeof annotations !== "object" || Array.isArray(annotations) || Object.values(annotations).some((v) => typeof v !== "string")) {
            throw new ApiError(400, "POST /pods: annotations must map names to strings");
          }
          let node: string;
          if (b.node === undefined || b.node === null) node = K8S_NODES[placed++ % K8S_NODES.length]!;
          else if (typeof b.node === "string" && K8S_NODES.includes(b.node)) node = b.node;
          else throw new ApiError(400, `node must be one of the k8s nodes ${K8S_NODES.join(", ")}; got ${JSON.stringify(b.node)}`);
          if (state.pods.has(name)) throw new ApiError(409, `pod "${name}" already exists`);
          const pod = {
            name, node, netns: podNetns(PREFIX, name), uid: randomUUID(), eth0: eth0For(node), status: "Running", createdAt: new Date().toISOString(),
            annotations: annotations as Record<string, string>,
          };
          state.pods.set(name, pod);
          return { status: 201, body: pod };
        },
      },
      { method: "GET", pattern: "/pods", handler: () => ({ body: { pods: [...state.pods.values()].map(record) } }) },
      { method: "GET", pattern: "/pods/:name", handler: (req) => ({ body: record(known(podName(req.params.name, "GET /pods"))) }) },
      {
        method: "DELETE",
        pattern: "/pods/:name",
        handler: (req) => {
          const name = podName(req.params.name, "DELETE /pods");
          opts.closeByPod(name);
          return { body: { name, deleted: state.pods.delete(name) } };
        },
      },
    ],
  });
}
