// PodAttachment: one NSM connection giving a Kubernetes pod an extra interface into a network
// service. The pod is resolved through the API server (provider/impl/kubePod.ts): its node, uid
// and netns go into the connection's labels and kernel mechanism. A refresh reads the pod too: one
// that is gone or was replaced (another uid) while its connection stayed shows as state DOWN, and
// the next update closes the old connection and requests the same connection id for the new pod.
// Create is an NSM Request with a connection id fixed in check: derived from the resource's URN,
// so a create retried after a crash (even one whose check ran in a new process, without the old
// inputs) heals the connection the first attempt made instead of adding a second interface;
// delete is Close. The connection carries the URN as label tfmesh-owner. The forwarder chooses
// the interface name (nsm-<n>) unless the program asks for one, and the outputs read it back from
// the connection's kernel mechanism. All of it is NSM's gRPC API (Request, Close, and the NSMgr's
// MonitorConnections for a read). Refresh reads the connection as the forwarder checks it now
// (the monitor's initial state transfer of a scope selecting the connection's path segment id):
// one whose data plane broke shows as state DOWN, and the next update re-requests it, which
// rebuilds what is missing.
import { randomUUID } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { checkIfName, checkK8sName } from "../../lib/validate/names.ts";
import { MechanismParam, NODE_LABEL, POD_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL } from "../../wire/nsm/api.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import { crashPoint } from "../../lib/crashPoint.ts";
import { problemOf } from "../../wire/nsm/protoMapping.ts";
import { podKernelRequest } from "../../wire/nsm/podRequest.ts";
import { clients, configure, lookup, progress, quickClients } from "./context.ts";
import { NSM_ANNOTATION, isAnnotationConnectionId, parseNsmAnnotation } from "../../wire/nsm/annotation.ts";
import type { NsmUrl } from "../../wire/nsm/annotation.ts";
import { checkPodName, podKey, readPod, resolvePod } from "./kubePod.ts";
import type { PodRef, ResolvedPod } from "./kubePod.ts";
import { withPlainErrors } from "./plainErrors.ts";
import { OWNER, OWNER_KEY, checkOwner, ownerOf, ownerUuid } from "./identity.ts";
import { Failures, changedKeys, compact, inputsOf, isUnknown, optionalString, requiredString, sameJson, withRecordedInputs } from "./inputs.ts";
import { LOGICAL_NAME } from "./naming.ts";

/** Connection labels the provider sets from the pod. */
const PROVIDER_LABELS = new Set([NODE_LABEL, POD_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL]);

/** Interfaces the pod already has for itself. */
const RESERVED_IFNAMES = new Set(["eth0", "lo"]);

export interface PodAttachmentInputs {
  [LOGICAL_NAME]?: string;
  [OWNER]?: string;
  pod: string;
  /** The pod's Kubernetes namespace; check fills in "default". */
  namespace: string;
  networkService: string;
  interfaceName?: string;
  labels?: Record<string, string>;
  connectionId: string;
}

export interface PodAttachmentOutputs extends PodAttachmentInputs {
  interfaceName: string;
  node: string;
  /** The netns name the pod's annotation gave; "" when the forwarder found it from the pod's uid. */
  netns: string;
  /** The uid of the pod the connection was made for. */
  podUid: string;
  ip: string;
  prefixLength: number;
  mac: string;
  routes: Array<{ prefix: string; nextHop?: string }>;
  state: string;
  endpoint: string;
}

function checkLabels(f: Failures, raw: unknown): void {
  if (raw === undefined || isUnknown(raw)) return;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    f.add("labels", "must be a map of string to string");
    return;
  }
  for (const [k, v] of Object.entries(raw)) {
    if (PROVIDER_LABELS.has(k)) f.add(`labels.${k}`, `is set by the provider from the pod; remove it`);
    else if (k === OWNER_KEY) f.add(`labels.${k}`, "is set by the provider (the resource's URN); remove it");
    else if (!/^[A-Za-z0-9_.\/-]{1,63}$/.test(k)) f.add(`labels.${k}`, "label keys are 1..63 characters from letters, digits, '_', '.', '/', '-'");
    if (!isUnknown(v) && typeof v !== "string") f.add(`labels.${k}`, `must be a string, got ${JSON.stringify(v)}`);
  }
}

/** Why the pod's own NSM annotation keeps `interfaceName` from an attachment, if it does (undefined when the pod cannot be read yet). */
async function annotationClaim(ref: PodRef, interfaceName: string): Promise<string | undefined> {
  const found = await lookup(() => readPod(quickClients().kube(), ref));
  const annotation = found.status === "ok" ? found.value?.metadata.annotations?.[NSM_ANNOTATION] : undefined;
  if (annotation === undefined) return undefined;
  let urls: NsmUrl[];
  try {
    urls = parseNsmAnnotation(annotation);
  } catch {
    return undefined;
  }
  const entry = urls.findIndex((u) => u.interfaceName === interfaceName);
  if (entry < 0) return undefined;
  return `"${interfaceName}" is the interface entry ${entry + 1} of pod ${podKey(ref)}'s ${NSM_ANNOTATION} annotation asks for (kernel://${urls[entry]!.service}/${interfaceName}); pick another name, or leave it out and the forwarder picks a free one`;
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const f = new Failures();
  const pod = requiredString(f, "pod", news.pod);
  if (pod !== undefined && !isUnknown(pod)) f.add("pod", checkPodName(pod));
  const namespace = optionalString(f, "namespace", news.namespace) ?? "default";
  if (!isUnknown(namespace)) f.add("namespace", checkK8sName(namespace));
  const networkService = requiredString(f, "networkService", news.networkService);
  if (networkService !== undefined && !isUnknown(networkService)) f.add("networkService", checkK8sName(networkService));
  const interfaceName = optionalString(f, "interfaceName", news.interfaceName);
  if (interfaceName !== undefined && !isUnknown(interfaceName)) {
    const problem = checkIfName(interfaceName);
    f.add("interfaceName", problem);
    if (!problem && RESERVED_IFNAMES.has(interfaceName)) f.add("interfaceName", `"${interfaceName}" is the pod's own interface; pick another name such as nsm-1`);
  }
  checkLabels(f, news.labels);
  if (typeof news.connectionId === "string" && isAnnotationConnectionId(news.connectionId)) {
    f.add("connectionId", `"${news.connectionId}" has the form of the ids NSM's annotation gives its connections (nsc-<pod uid>-<n>); pick another`);
  }
  if (f.empty && typeof interfaceName === "string" && !isUnknown(interfaceName) && typeof pod === "string" && !isUnknown(pod) && !isUnknown(namespace)) {
    f.add("interfaceName", await annotationClaim({ name: pod, namespace }, interfaceName));
  }
  const owner = checkOwner(f, news);
  const connectionId =
    (typeof news.connectionId === "string" && news.connectionId) ||
    (typeof olds.connectionId === "string" && olds.connectionId) ||
    (owner !== undefined && !isUnknown(owner) ? ownerUuid(owner, "nsm-connection") : randomUUID());
  const inputs = compact({ [LOGICAL_NAME]: news[LOGICAL_NAME], [OWNER]: owner, pod, namespace, networkService, interfaceName, labels: news.labels, connectionId });
  return { inputs, failures: f.list };
}

async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  // State from before namespaces were inputs has none: it meant "default".
  const replaces = changedKeys({ namespace: "default", ...olds }, { namespace: "default", ...news }, ["pod", "namespace", "networkService", "connectionId"]);
  // interfaceName is also an output (the generated nsm-<n>): only a requested name counts.
  if (news.interfaceName !== undefined && (isUnknown(news.interfaceName) || news.interfaceName !== olds.interfaceName)) replaces.push("interfaceName");
  const inPlace = changedKeys(olds, news, ["labels"]);
  // At a refresh the forwarder found the connection's data plane broken: re-request to heal it.
  if (olds.state !== undefined && olds.state !== "UP") inPlace.push("state");
  // The replacement needs the same interface name in the same pod, so the old one goes first.
  return { changes: replaces.length + inPlace.length > 0, replaces, deleteBeforeReplace: true };
}

const ownerLabel = (inputs: PodAttachmentInputs): Record<string, string> => {
  const owner = ownerOf(inputs as unknown as Record<string, unknown>);
  return owner !== undefined ? { [OWNER_KEY]: owner } : {};
};

/**
 * The Request: a requested interface name goes in the kernel mechanism; without one the forwarder
 * picks (and keeps) nsm-<n>. Without a netns annotation no inodeURL is sent: the forwarder finds
 * the pod's netns from its uid label.
 */
function requestFor(inputs: PodAttachmentInputs, pod: ResolvedPod): NetworkServiceRequest {
  return podKernelRequest({ id: inputs.connectionId, networkService: inputs.networkService, pod, interfaceName: inputs.interfaceName, labels: { ...inputs.labels, ...ownerLabel(inputs) } });
}

function outputsOf(conn: Connection, inputs: PodAttachmentInputs, pod: { node: string; netns: string | undefined; uid: string }): PodAttachmentOutputs {
  const ip = conn.context?.ip_context?.src_ip_addrs?.[0] ?? "";
  const [addr = "", plen = ""] = ip.split("/");
  return compact({
    ...inputs,
    interfaceName: conn.mechanism?.parameters?.[MechanismParam.name] ?? "",
    node: conn.labels?.[NODE_LABEL] ?? pod.node,
    netns: conn.mechanism?.parameters?.[MechanismParam.netnsName] ?? pod.netns ?? "",
    podUid: conn.labels?.[POD_UID_LABEL] ?? pod.uid,
    ip: addr,
    prefixLength: Number(plen || 0),
    mac: conn.context?.ethernet_context?.src_mac ?? "",
    routes: (conn.context?.ip_context?.src_routes ?? []).map((r) => compact({ prefix: r.prefix, nextHop: r.nextHop })),
    state: conn.state ?? "UP",
    endpoint: conn.network_service_endpoint_name ?? "",
  });
}

const podOf = (inputs: PodAttachmentInputs): Promise<ResolvedPod> => resolvePod(clients().kube(), { name: inputs.pod, namespace: inputs.namespace ?? "default" });

async function create(inputs: PodAttachmentInputs): Promise<pulumi.dynamic.CreateResult> {
  const { nsm } = clients();
  const pod = await podOf(inputs);
  const conn = await nsm.request(requestFor(inputs, pod));
  // Test hook: the provider dies with the connection made and not yet in the engine's state.
  crashPoint("attachment.requested");
  const outs = outputsOf(conn, inputs, pod);
  if (!outs.ip || !outs.interfaceName) {
    await nsm.close(conn);
    const what = outs.ip ? "an interface name" : `an address for ${inputs.pod}/${outs.interfaceName}`;
    throw new Error(`network service "${inputs.networkService}" answered without ${what}; the connection was closed again`);
  }
  return { id: inputs.connectionId, outs: withRecordedInputs(outs, inputs) };
}

/** Why the pod the connection was made for is no longer the one of that name, or undefined. */
async function podDrift(conn: Connection, old: PodAttachmentOutputs): Promise<string | undefined> {
  const ref = { name: conn.labels?.[POD_LABEL] ?? old.pod, namespace: conn.labels?.[POD_NAMESPACE_LABEL] ?? old.namespace ?? "default" };
  const uid = conn.labels?.[POD_UID_LABEL] ?? old.podUid;
  const pod = await readPod(clients().kube(), ref);
  if (!pod) return `pod ${podKey(ref)} is gone`;
  if (pod.metadata.deletionTimestamp) return `pod ${podKey(ref)} is being deleted`;
  if (uid && pod.metadata.uid !== uid) return `pod ${podKey(ref)} was replaced (uid ${uid} is now ${pod.metadata.uid})`;
  return undefined;
}

async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  // The forwarder checks the data plane it built (interface, MAC, address, the VN's port) and answers DOWN when it broke.
  const conn = await clients().nsm.getConnection(id);
  // Gone with its pod (the kubelet closes a deleted pod's connections) or by itself: the next up re-creates it.
  if (!conn) return { id: "" };
  const old = props as unknown as PodAttachmentOutputs;
  const outs = { ...outputsOf(conn, old, { node: old.node, netns: old.netns, uid: old.podUid }), networkService: conn.network_service };
  const drift = await podDrift(conn, old);
  if (drift) {
    progress(`NSM connection ${id}: ${drift}; the next up attaches the pod now of that name`);
    outs.state = "DOWN";
  } else if (conn.state === "DOWN") {
    progress(`NSM connection ${id} (pod ${conn.labels?.[POD_LABEL] ?? "?"}) is DOWN: ${problemOf(conn) ?? "no reason given"}; the next up requests it again`);
  }
  const was = inputsOf(props);
  const labels = clientLabels(conn);
  const inputs = compact({
    ...was,
    pod: conn.labels?.[POD_LABEL] ?? was.pod,
    namespace: conn.labels?.[POD_NAMESPACE_LABEL] ?? was.namespace,
    networkService: conn.network_service,
    interfaceName: was.interfaceName === undefined ? undefined : outs.interfaceName,
    labels: sameJson(labels, was.labels ?? {}) ? was.labels : Object.keys(labels).length > 0 ? labels : undefined,
    connectionId: id,
  });
  return { id, props: withRecordedInputs(outs, inputs), inputs };
}

/** The connection's labels the program gave (the provider adds the pod's and the owner labels itself). */
function clientLabels(conn: Connection): Record<string, string> {
  return Object.fromEntries(Object.entries(conn.labels ?? {}).filter(([k]) => !PROVIDER_LABELS.has(k) && k !== OWNER_KEY));
}

async function update(id: string, olds: Record<string, unknown>, news: PodAttachmentInputs): Promise<pulumi.dynamic.UpdateResult> {
  const pod = await podOf(news);
  const inputs = { ...news, connectionId: id };
  const oldUid = (olds as Partial<PodAttachmentOutputs>).podUid;
  if (oldUid && oldUid !== pod.uid) {
    // The connection was made for a pod that is gone: its interface went with it. Close it, then
    // request the same connection id for the pod now of that name.
    progress(`pod ${podKey(pod)} is a new pod (uid ${pod.uid}, was ${oldUid}): closing its old connection ${id} and attaching the new pod`);
    await clients().nsm.close({ id });
  }
  // A repeated Request heals the connection and keeps the interface name the forwarder chose.
  const conn = await clients().nsm.request(requestFor(inputs, pod));
  return { outs: withRecordedInputs(outputsOf(conn, inputs, pod), news) };
}

async function remove(id: string): Promise<void> {
  await clients().nsm.close({ id });
}

export const provider: pulumi.dynamic.ResourceProvider = withPlainErrors({ configure, check, diff, create, read, update, delete: remove });
