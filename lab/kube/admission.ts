// The lab's NSM admission webhook, what cmd-admission-webhook-k8s is on a real cluster: a pod
// created with the `networkservicemesh.io` annotation gets the init container `nsc-init`
// (requests the interfaces before the app starts) and the sidecar `nsc`, both with the annotation
// in NSM_NETWORK_SERVICES. Unlike NSM's, which only logs a malformed annotation, it refuses the
// object, naming the bad entry: a pod (or a workload whose pod template carries it) with an
// annotation no nsc-init could serve is refused before anything is made.
import https from "node:https";
import fs from "node:fs";
import path from "node:path";
import type { Container, KubeObject, KubernetesClient } from "../../wire/kubernetes.ts";
import { NSM_ANNOTATION, NSM_NETWORK_SERVICES_ENV, checkNsmAnnotation } from "../../wire/nsm/annotation.ts";
import { FORWARDER_NAMESPACE, applyObjects } from "./forwarderDaemonSets.ts";
import type { KubeFiles } from "./files.ts";
import { servingCa } from "./files.ts";
import { ApiError, close, jsonRequestListener, listen, objectBody } from "../../lib/http/server.ts";
import type { Route } from "../../lib/http/server.ts";

/** The images the lab's kubelet runs as NSM clients (lab/kube/nscInit.ts). */
export const NSC_INIT_IMAGE = "tfmesh/nsc-init:lab";
export const NSC_SIDECAR_IMAGE = "tfmesh/nsc:lab";
export const NSC_INIT_CONTAINER = "nsc-init";
export const NSC_SIDECAR_CONTAINER = "nsc";

export const WEBHOOK_CONFIGURATION = "tfmesh-lab-nsm";
/** Namespaces the webhook leaves alone: the control plane's and the lab's own (the forwarders). */
const EXEMPT_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease", FORWARDER_NAMESPACE];
const WORKLOAD_KINDS = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"]);

interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  namespace?: string;
  object?: {
    metadata?: { name?: string; generateName?: string; annotations?: Record<string, string> };
    spec?: { initContainers?: Container[]; containers?: Container[]; template?: { metadata?: { annotations?: Record<string, string> } } };
  };
}

export interface AdmissionReview {
  apiVersion: string;
  kind: "AdmissionReview";
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  patchType?: "JSONPatch";
  patch?: string;
}

const nscContainer = (name: string, image: string, services: string): Container => ({
  name,
  image,
  imagePullPolicy: "IfNotPresent",
  env: [
    { name: NSM_NETWORK_SERVICES_ENV, value: services },
    { name: "NSM_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  ],
});

/** The JSON patch that adds nsc-init and the nsc sidecar to a pod spec (nothing when it has them). */
function injection(spec: NonNullable<AdmissionRequest["object"]>["spec"], services: string): unknown[] {
  const has = (name: string) => [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].some((c) => c.name === name);
  const ops: unknown[] = [];
  if (!has(NSC_INIT_CONTAINER)) {
    const init = nscContainer(NSC_INIT_CONTAINER, NSC_INIT_IMAGE, services);
    // nsc-init runs after the pod's own init containers, as NSM's webhook appends it.
    ops.push(spec?.initContainers ? { op: "add", path: "/spec/initContainers/-", value: init } : { op: "add", path: "/spec/initContainers", value: [init] });
  }
  if (!has(NSC_SIDECAR_CONTAINER)) ops.push({ op: "add", path: "/spec/containers/-", value: nscContainer(NSC_SIDECAR_CONTAINER, NSC_SIDECAR_IMAGE, services) });
  return ops;
}

/** The webhook's answer to one review: refuse a bad annotation, inject into an annotated pod, else allow. */
export function review(req: AdmissionRequest): AdmissionResponse {
  const allow: AdmissionResponse = { uid: req.uid, allowed: true };
  const kind = req.kind.kind;
  if (req.operation !== "CREATE" && req.operation !== "UPDATE") return allow;
  const what = `${kind} ${req.namespace ? `${req.namespace}/` : ""}${req.object?.metadata?.name ?? req.object?.metadata?.generateName ?? ""}`;
  const annotation = kind === "Pod" ? req.object?.metadata?.annotations?.[NSM_ANNOTATION] : req.object?.spec?.template?.metadata?.annotations?.[NSM_ANNOTATION];
  if (annotation === undefined || (kind !== "Pod" && !WORKLOAD_KINDS.has(kind))) return allow;
  const problem = checkNsmAnnotation(annotation);
  if (problem) {
    const where = kind === "Pod" ? "" : " (pod template)";
    return { uid: req.uid, allowed: false, status: { code: 400, reason: "BadRequest", message: `${what}${where}: ${problem}` } };
  }
  // A pod's spec is fixed once it exists: NSM's containers go in at its creation only.
  if (kind !== "Pod" || req.operation !== "CREATE") return allow;
  const ops = injection(req.object?.spec, annotation);
  return ops.length ? { ...allow, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(ops)).toString("base64") } : allow;
}

/** The MutatingWebhookConfiguration that sends pods and workloads to the webhook at `url`. */
export function webhookConfiguration(url: string, caPem: string): KubeObject {
  const common = {
    clientConfig: { url, caBundle: Buffer.from(caPem).toString("base64") },
    admissionReviewVersions: ["v1"],
    sideEffects: "None",
    // Fail closed: an annotated pod created while the webhook is down would start without its interfaces.
    failurePolicy: "Fail",
    timeoutSeconds: 5,
    namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: EXEMPT_NAMESPACES }] },
  };
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: WEBHOOK_CONFIGURATION },
    webhooks: [
      { name: "pods.nsm.tfmesh.io", ...common, reinvocationPolicy: "IfNeeded", rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }] },
      {
        name: "workloads.nsm.tfmesh.io",
        ...common,
        rules: [
          { apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["deployments", "replicasets", "statefulsets", "daemonsets"], scope: "Namespaced" },
          { apiGroups: ["batch"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["jobs"], scope: "Namespaced" },
        ],
      },
    ],
  } as KubeObject;
}

export interface AdmissionWebhook {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 4 * 1024 * 1024;

/** Where the webhook's port is kept, so the configuration stored in etcd stays right across restarts. */
const portFile = (files: KubeFiles) => path.join(files.dir, "webhook.port");

/**
 * Serves the webhook on 127.0.0.1 with the API server's own serving certificate (whose CA the
 * configuration carries), on the port of the last start when it is free: the controllers may create
 * pods as soon as the API server is up, before the configuration is applied again.
 */
export async function serveAdmissionWebhook(o: { files: KubeFiles; log(line: string): void }): Promise<AdmissionWebhook> {
  const mutate: Route = {
    method: "POST",
    pattern: "/mutate",
    handler: (req) => {
      const body = objectBody(req) as Partial<AdmissionReview>;
      if (!body.request?.uid) throw new ApiError(400, "expected an AdmissionReview with a request");
      const response = review(body.request);
      if (!response.allowed) o.log(`admission: refused ${response.status?.message}`);
      return { body: { apiVersion: body.apiVersion ?? "admission.k8s.io/v1", kind: "AdmissionReview", response } };
    },
  };
  const server = https.createServer(
    { cert: fs.readFileSync(o.files.servingCert), key: fs.readFileSync(o.files.servingKey) },
    jsonRequestListener({ name: "nsm admission webhook", routes: [mutate], maxBodyBytes: MAX_BODY }),
  );
  const saved = Number.parseInt(fs.existsSync(portFile(o.files)) ? fs.readFileSync(portFile(o.files), "utf8") : "", 10);
  let port: number;
  try {
    port = await listen(server, Number.isInteger(saved) && saved > 0 ? saved : 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    o.log(`admission: port ${saved} of the last start is taken; the webhook moves`);
    port = await listen(server, 0);
  }
  fs.writeFileSync(portFile(o.files), `${port}\n`, { mode: 0o600 });
  return { url: `https://127.0.0.1:${port}/mutate`, close: () => close(server) };
}

/** Points the API server at the webhook (server-side apply of its MutatingWebhookConfiguration). */
export async function applyWebhookConfiguration(client: KubernetesClient, files: KubeFiles, url: string): Promise<void> {
  await applyObjects(client, [webhookConfiguration(url, servingCa(files))]);
}
