// A small typed client of the Kubernetes API (plain HTTPS + JSON over lib/http/client.ts): get,
// list, watch, create, patch, delete by path, with resourceVersion handling. 404 reads as
// undefined, 409 is a KubernetesConflict; a watch is the `?watch=true` stream of JSON lines.
import { HttpClient, HttpError, isStatus, orUndefinedOn404 } from "../lib/http/client.ts";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  finalizers?: string[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastHeartbeatTime?: string;
  lastProbeTime?: string | null;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}

export interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  env?: EnvVar[];
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: {
    running?: { startedAt: string };
    waiting?: { reason?: string; message?: string };
    terminated?: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string };
  };
}

export interface Pod extends KubeObject {
  spec: { nodeName?: string; hostNetwork?: boolean; containers: Container[]; initContainers?: Container[]; restartPolicy?: string };
  status?: {
    phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
    conditions?: Condition[];
    hostIP?: string;
    hostIPs?: Array<{ ip: string }>;
    podIP?: string;
    podIPs?: Array<{ ip: string }>;
    startTime?: string;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface Node extends KubeObject {
  spec: { podCIDR?: string; podCIDRs?: string[]; taints?: Array<{ key: string; effect: string; value?: string }>; unschedulable?: boolean };
  status?: {
    conditions?: Condition[];
    addresses?: Array<{ type: string; address: string }>;
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    nodeInfo?: Record<string, string>;
  };
}

export interface Lease extends KubeObject {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string };
}

export type WatchEvent<T> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  | { type: "BOOKMARK"; object: KubeObject }
  | { type: "ERROR"; object: { code?: number; reason?: string; message?: string } };

/** The API server refused a write because the object changed or already exists (409). */
export class KubernetesConflict extends Error {
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(message);
    this.name = "KubernetesConflict";
    this.reason = reason;
  }
}

/** A watch the server ended with 410 Gone: list again and watch from the list's resourceVersion. */
export class WatchExpired extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WatchExpired";
  }
}

export interface KubernetesClientOptions {
  /** https://127.0.0.1:<port> */
  server: string;
  /** A bearer token (a service account's, or the lab's admin token). */
  token?: string;
  /** A client certificate and key (PEM), the other way a kubeconfig user authenticates. */
  clientCert?: { cert: string; key: string };
  /** PEM of the CA that signed the API server's serving certificate; absent: the system's CAs. */
  ca?: string;
  /** Accept any serving certificate (a kubeconfig's insecure-skip-tls-verify). */
  insecureSkipTlsVerify?: boolean;
  timeoutMs?: number;
  retries?: number;
  /** Appended to connection errors (e.g. how to start the lab). */
  unreachableHint?: string;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

/** "apply" is server-side apply: the body is the whole object as its manager wants it (JSON is YAML). */
export type PatchType = "merge" | "strategic" | "json" | "apply";

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
};

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  /** Delete only this incarnation of the object. */
  uid?: string;
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
}

function conflictOrRethrow(e: unknown): never {
  if (isStatus(e, 409)) {
    const body = e.body as { reason?: string } | undefined;
    throw new KubernetesConflict(e.message, body?.reason ?? "Conflict");
  }
  throw e;
}

/** The path of a core or group resource: ("v1", "pods", "ns", "name") -> /api/v1/namespaces/ns/pods/name. */
export function resourcePath(apiVersion: string, resource: string, namespace?: string, name?: string, subresource?: string): string {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const seg = (s: string) => encodeURIComponent(s);
  let p = namespace ? `${base}/namespaces/${seg(namespace)}/${resource}` : `${base}/${resource}`;
  if (name !== undefined) p += `/${seg(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}

export class KubernetesClient {
  readonly http: HttpClient;
  readonly server: string;

  constructor(opts: KubernetesClientOptions) {
    this.server = opts.server;
    const { token } = opts;
    this.http = new HttpClient({
      baseUrl: opts.server,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.clientCert ? { clientCert: opts.clientCert } : {}),
      ...(opts.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}),
      timeoutMs: opts.timeoutMs ?? 30_000,
      retries: opts.retries ?? 2,
      ...(opts.unreachableHint !== undefined ? { unreachableHint: opts.unreachableHint } : {}),
      ...(token !== undefined ? { headers: () => ({ authorization: `Bearer ${token}` }) } : {}),
    });
  }

  async get<T extends KubeObject>(path: string): Promise<T | undefined> {
    return orUndefinedOn404(this.http.get<T>(path).then((r) => r.body));
  }

  async list<T extends KubeObject>(path: string, opts: ListOptions = {}): Promise<KubeList<T>> {
    return (await this.http.get<KubeList<T>>(path, { query: { ...opts } })).body;
  }

  async create<T extends KubeObject>(path: string, body: unknown): Promise<T> {
    try {
      return (await this.http.post<T>(path, body)).body;
    } catch (e) {
      conflictOrRethrow(e);
    }
  }

  /** Patches the object; undefined when it does not exist. A resourceVersion in a merge patch makes it conditional (409 on change). */
  async patch<T extends KubeObject>(path: string, body: unknown, type: PatchType = "merge"): Promise<T | undefined> {
    try {
      return await orUndefinedOn404(this.http.patch<T>(path, body, { headers: { "content-type": PATCH_CONTENT_TYPE[type] } }).then((r) => r.body));
    } catch (e) {
      conflictOrRethrow(e);
    }
  }

  /**
   * Server-side apply: the object as `fieldManager` wants it, its fields forced, created or updated
   * in one call with no resourceVersion to race other writers on.
   */
  async apply<T extends KubeObject>(path: string, body: KubeObject, fieldManager: string): Promise<T | undefined> {
    return this.patch<T>(`${path}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`, body, "apply");
  }

  /** Replaces the object (its metadata.resourceVersion makes it conditional: 409 when it changed). */
  async replace<T extends KubeObject>(path: string, body: T): Promise<T | undefined> {
    try {
      return await orUndefinedOn404(this.http.put<T>(path, body).then((r) => r.body));
    } catch (e) {
      conflictOrRethrow(e);
    }
  }

  /** Deletes the object; false when it was not there (or, with uid, is another incarnation: 409). */
  async delete(path: string, opts: DeleteOptions = {}): Promise<boolean> {
    const body: Record<string, unknown> = { kind: "DeleteOptions", apiVersion: "v1" };
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.uid !== undefined) body.preconditions = { uid: opts.uid };
    if (opts.propagationPolicy !== undefined) body.propagationPolicy = opts.propagationPolicy;
    try {
      await this.http.request("DELETE", path, { body });
      return true;
    } catch (e) {
      if (isStatus(e, 404)) return false;
      conflictOrRethrow(e);
    }
  }

  /**
   * Watches a collection from resourceVersion on, yielding events until the server ends the
   * stream or `signal` aborts. A 410 Gone (in the stream or as the answer) throws WatchExpired.
   */
  async *watch<T extends KubeObject>(path: string, opts: ListOptions & { resourceVersion: string; signal?: AbortSignal; timeoutSeconds?: number }): AsyncGenerator<WatchEvent<T>> {
    const { signal, resourceVersion, timeoutSeconds, ...selectors } = opts;
    let res;
    try {
      res = await this.http.stream(path, {
        query: { ...selectors, watch: true, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: timeoutSeconds ?? 300 },
        signal,
      });
    } catch (e) {
      if (isStatus(e, 410)) throw new WatchExpired(e.message);
      throw e;
    }
    let rest = "";
    for await (const chunk of res.body) {
      rest += chunk.toString("utf8");
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (line === "") continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === "ERROR") {
          if (event.object.code === 410) throw new WatchExpired(event.object.message ?? "watch expired");
          throw new HttpError("GET", this.http.url(path), event.object.code ?? 500, event.object.message ?? "watch error", event.object);
        }
        yield event;
      }
    }
  }
}

/**
 * The network namespace of a lab pod, as a CNI records what it made (like Multus's
 * network-status): the lab's kubelet writes the netns name under /var/run/netns on every pod it
 * runs (not hostNetwork) before the pod turns Ready. PodAttachment sends it as the kernel
 * mechanism's inodeURL; a pod without it (a real cluster) is found by the forwarder through its uid.
 */
export const NETNS_ANNOTATION = "tfmesh.io/netns";
