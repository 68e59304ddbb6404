// Fake Kubernetes API server, the part PodAttachment reads: GET of one pod and the list of a
// namespace's pods, behind a bearer token, answering as kube-apiserver does (the Pod object; a
// 404 or 401 as a v1 Status with reason and message). Pods are put in place by the test
// (putPod), as a kubelet would have run them: scheduled, Running and Ready, annotated with the
// lab's netns name unless the test says otherwise.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { ApiError, createJsonServer } from "../../../lib/http/server.ts";
import type { ApiError as ApiErrorType } from "../../../lib/http/server.ts";
import { NETNS_ANNOTATION } from "../../../wire/kubernetes.ts";
import type { Pod } from "../../../wire/kubernetes.ts";

export interface KubernetesFakeState {
  /** By "<namespace>/<name>". */
  kubePods: Map<string, Pod>;
}

/** The bearer token the fake's kubeconfig carries. */
export const KUBE_TOKEN = "fake-kube-admin-token";

const REASONS: Record<number, string> = { 401: "Unauthorized", 404: "NotFound", 400: "BadRequest" };

function status(err: ApiErrorType): { status: number; body: unknown } {
  return {
    status: err.status,
    body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: err.message, reason: REASONS[err.status] ?? "InternalError", code: err.status },
  };
}

export interface PutPodOptions {
  namespace?: string;
  node?: string;
  /** The netns annotation; null: none (as on a real cluster). Default "tfm-pod-<namespace>-<name>". */
  netns?: string | null;
  phase?: NonNullable<Pod["status"]>["phase"];
  uid?: string;
  deleting?: boolean;
}

/** Puts a pod in place as a kubelet runs it; replaces one of the same name (a new uid unless given). */
export function putPod(state: KubernetesFakeState, name: string, opts: PutPodOptions = {}): Pod {
  const namespace = opts.namespace ?? "default";
  const netns = opts.netns === undefined ? `tfm-pod-${namespace}-${name}` : opts.netns;
  const phase = opts.phase ?? "Running";
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      uid: opts.uid ?? randomUUID(),
      resourceVersion: String(Date.now()),
      creationTimestamp: new Date().toISOString(),
      ...(opts.deleting ? { deletionTimestamp: new Date().toISOString() } : {}),
      ...(netns !== null ? { annotations: { [NETNS_ANNOTATION]: netns } } : {}),
    },
    spec: { ...(opts.node !== undefined || phase !== "Pending" ? { nodeName: opts.node ?? "k8s-1" } : {}), containers: [{ name: "main", image: "busybox:1.36" }] },
    status: { phase, conditions: [{ type: "Ready", status: phase === "Running" ? "True" : "False" }] },
  };
  state.kubePods.set(`${namespace}/${name}`, pod);
  return pod;
}

export function fakeKubernetes(state: KubernetesFakeState): http.Server {
  return createJsonServer({
    name: "fake-kubernetes",
    before: (req) => {
      if (req.headers.authorization !== `Bearer ${KUBE_TOKEN}`) throw new ApiError(401, "Unauthorized");
    },
    renderError: status,
    routes: [
      {
        method: "GET",
        pattern: "/api/v1/namespaces/:ns/pods",
        handler: (req) => ({
          body: { apiVersion: "v1", kind: "PodList", metadata: { resourceVersion: "1" }, items: [...state.kubePods.values()].filter((p) => p.metadata.namespace === req.params.ns) },
        }),
      },
      {
        method: "GET",
        pattern: "/api/v1/namespaces/:ns/pods/:name",
        handler: (req) => {
          const pod = state.kubePods.get(`${req.params.ns}/${req.params.name}`);
          if (!pod) throw new ApiError(404, `pods "${req.params.name}" not found`);
          return { body: pod };
        },
      },
    ],
  });
}
