// PodAttachment: one NSM connection giving a pod an extra interface into a network service.
// Create is an NSM Request with a connection id fixed in check (so a retried create refreshes
// the same connection instead of adding a second interface); delete is Close. Refresh checks
// that the connection and its kernel interface still exist; a broken one shows as state DOWN,
// and the next update re-requests it, which rebuilds what is missing.
import { randomUUID } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import { checkIfName, checkK8sName } from "../../lib/validate/names.ts";
import { KERNEL, MechanismParam, NODE_LABEL, POD_LABEL } from "../../wire/nsm/api.ts";
import type { Connection, NetworkServiceRequest } from "../../wire/nsm/api.ts";
import type { NsmClient } from "../../wire/nsm/client.ts";
import type { PodInfo, PodsClient } from "../../wire/pods.ts";
import { clients, configure, settings } from "./context.ts";
import { Failures, changedKeys, compact, isUnknown, optionalString, recordedInputs, requiredString, sameJson, withRecordedInputs } from "./inputs.ts";
import { LOGICAL_NAME } from "./naming.ts";

/** Interfaces the pod already has for itself. */
const RESERVED_IFNAMES = new Set(["eth0", "lo"]);
export const IFNAME_PREFIX = "nsm-";

export interface PodAttachmentInputs {
  [LOGICAL_NAME]?: string;
  pod: string;
  networkService: string;
  interfaceName?: string;
  labels?: Record<string, string>;
  connectionId: string;
}

export interface PodAttachmentOutputs extends PodAttachmentInputs {
  interfaceName: string;
  node: string;
  netns: string;
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
    if (k === NODE_LABEL || k === POD_LABEL) f.add(`labels.${k}`, `is set by the provider from the pod; remove it`);
    else if (!/^[A-Za-z0-9_.\/-]{1,63}$/.test(k)) f.add(`labels.${k}`, "label keys are 1..63 characters from letters, digits, '_', '.', '/', '-'");
    if (!isUnknown(v) && typeof v !== "string") f.add(`labels.${k}`, `must be a string, got ${JSON.stringify(v)}`);
  }
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const f = new Failures();
  const pod = requiredString(f, "pod", news.pod);
  if (pod !== undefined && !isUnknown(pod)) f.add("pod", checkK8sName(pod));
  const networkService = requiredString(f, "networkService", news.networkService);
  if (networkService !== undefined && !isUnknown(networkService)) f.add("networkService", checkK8sName(networkService));
  const interfaceName = optionalString(f, "interfaceName", news.interfaceName);
  if (interfaceName !== undefined && !isUnknown(interfaceName)) {
    const problem = checkIfName(interfaceName);
    f.add("interfaceName", problem);
    if (!problem && RESERVED_IFNAMES.has(interfaceName)) f.add("interfaceName", `"${interfaceName}" is the pod's own interface; pick another name such as nsm-1`);
  }
  checkLabels(f, news.labels);
  const connectionId =
    (typeof news.connectionId === "string" && news.connectionId) || (typeof olds.connectionId === "string" && olds.connectionId) || randomUUID();
  const inputs = compact({ [LOGICAL_NAME]: news[LOGICAL_NAME], pod, networkService, interfaceName, labels: news.labels, connectionId });
  return { inputs, failures: f.list };
}

async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = changedKeys(olds, news, ["pod", "networkService", "connectionId"]);
  // interfaceName is also an output (the generated nsm-<n>): only a requested name counts.
  if (news.interfaceName !== undefined && (isUnknown(news.interfaceName) || news.interfaceName !== olds.interfaceName)) replaces.push("interfaceName");
  const inPlace = changedKeys(olds, news, ["labels"]);
  // A refresh found the connection or its interface broken: re-request to heal it.
  if (olds.state !== undefined && olds.state !== "UP") inPlace.push("state");
  // The replacement needs the same interface name in the same pod, so the old one goes first.
  return { changes: replaces.length + inPlace.length > 0, replaces, deleteBeforeReplace: true };
}

// Requests for one pod run one at a time, so two attachments never pick the same nsm-<n>.
const podLocks = new KeyedQueue();

/** The lowest nsm-<n> no other connection of the pod uses. */
export function freeInterfaceName(used: Iterable<string>): string {
  const taken = new Set(used);
  for (let n = 1; ; n++) if (!taken.has(`${IFNAME_PREFIX}${n}`)) return `${IFNAME_PREFIX}${n}`;
}

async function interfacesInUse(pod: PodInfo, ownId: string): Promise<string[]> {
  const conns = await clients().nsm.listConnections();
  return conns
    .filter((c) => c.id !== ownId && (c.mechanism?.parameters?.[MechanismParam.netnsName] === pod.netns || c.labels?.[POD_LABEL] === pod.name))
    .map((c) => c.mechanism?.parameters?.[MechanismParam.name])
    .filter((n): n is string => !!n);
}

function requestFor(inputs: PodAttachmentInputs, pod: PodInfo, interfaceName: string): NetworkServiceRequest {
  return {
    connection: {
      id: inputs.connectionId,
      network_service: inputs.networkService,
      labels: { ...inputs.labels, [NODE_LABEL]: pod.node, [POD_LABEL]: pod.name },
    },
    mechanism_preferences: [
      {
        cls: "LOCAL",
        type: KERNEL,
        parameters: {
          [MechanismParam.name]: interfaceName,
          [MechanismParam.inodeURL]: `file:///var/run/netns/${pod.netns}`,
          [MechanismParam.netnsName]: pod.netns,
        },
      },
    ],
  };
}

function outputsOf(conn: Connection, inputs: PodAttachmentInputs, pod: { node: string; netns: string }, fallbackIfName: string): PodAttachmentOutputs {
  const ip = conn.context?.ip_context?.src_ip_addrs?.[0] ?? "";
  const [addr = "", plen = ""] = ip.split("/");
  return compact({
    ...inputs,
    interfaceName: conn.mechanism?.parameters?.[MechanismParam.name] ?? fallbackIfName,
    node: conn.labels?.[NODE_LABEL] ?? pod.node,
    netns: conn.mechanism?.parameters?.[MechanismParam.netnsName] ?? pod.netns,
    ip: addr,
    prefixLength: Number(plen || 0),
    mac: conn.context?.ethernet_context?.src_mac ?? "",
    routes: (conn.context?.ip_context?.src_routes ?? []).map((r) => compact({ prefix: r.prefix, nextHop: r.nextHop })),
    state: conn.state ?? "UP",
    endpoint: conn.network_service_endpoint_name ?? "",
  });
}

async function podOrThrow(name: string): Promise<PodInfo> {
  const pod = await clients().pods.get(name);
  if (!pod) throw new Error(`pod: no pod "${name}" in the pod runtime at ${settings().podsUrl}`);
  return pod;
}

async function create(inputs: PodAttachmentInputs): Promise<pulumi.dynamic.CreateResult> {
  const { nsm } = clients();
  const pod = await podOrThrow(inputs.pod);
  return podLocks.run(pod.name, async () => {
    const interfaceName = inputs.interfaceName ?? freeInterfaceName(await interfacesInUse(pod, inputs.connectionId));
    const conn = await nsm.request(requestFor(inputs, pod, interfaceName));
    const outs = outputsOf(conn, inputs, pod, interfaceName);
    if (!outs.ip) {
      await nsm.close({ id: conn.id, network_service: conn.network_service });
      throw new Error(`network service "${inputs.networkService}" answered without an address for ${inputs.pod}/${interfaceName}; the connection was closed again`);
    }
    return { id: inputs.connectionId, outs: withRecordedInputs(outs, inputs) };
  });
}

async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const { nsm, pods } = clients();
  const conn = await nsm.getConnection(id);
  if (!conn) return { id: "" };
  const old = props as unknown as PodAttachmentOutputs;
  const outs = { ...outputsOf(conn, old, { node: old.node, netns: old.netns }, old.interfaceName), networkService: conn.network_service };
  if (!(await dataplaneAgrees(outs, pods, nsm))) outs.state = "DOWN";
  // State from before outputs recorded their inputs cannot tell a requested interface name from a generated one.
  const was: Record<string, unknown> = recordedInputs(props) ?? compact({ [LOGICAL_NAME]: old[LOGICAL_NAME], pod: old.pod, networkService: old.networkService, labels: old.labels, connectionId: id });
  const labels = clientLabels(conn);
  const inputs = compact({
    ...was,
    pod: conn.labels?.[POD_LABEL] ?? was.pod,
    networkService: conn.network_service,
    interfaceName: was.interfaceName === undefined ? undefined : outs.interfaceName,
    labels: sameJson(labels, was.labels ?? {}) ? was.labels : Object.keys(labels).length > 0 ? labels : undefined,
    connectionId: id,
  });
  return { id, props: withRecordedInputs(outs, inputs), inputs };
}

/** The connection's labels the program gave (the provider adds the node and pod labels itself). */
function clientLabels(conn: Connection): Record<string, string> {
  const { [NODE_LABEL]: _node, [POD_LABEL]: _pod, ...own } = conn.labels ?? {};
  return own;
}

/**
 * NSM may still hold a connection whose data plane broke underneath it: the kernel lost the
 * interface (node restart, `ip link del`) or its address, or the VMI behind it was deleted in TF,
 * so the vRouter no longer carries it. The lab shows the kernel as it is (and which VN carries each
 * interface); elsewhere there is no such view and NSM's word stands.
 */
async function dataplaneAgrees(outs: PodAttachmentOutputs, pods: PodsClient, nsm: NsmClient): Promise<boolean> {
  const topo = await pods.labTopology();
  if (!topo) return true;
  const iface = topo.nodes.flatMap((n) => n.pods).find((p) => p.name === outs.pod)?.interfaces.find((i) => i.name === outs.interfaceName);
  if (!iface) return false;
  if (outs.mac && iface.mac.toLowerCase() !== outs.mac.toLowerCase()) return false;
  if (outs.ip && !iface.addresses.includes(`${outs.ip}/${outs.prefixLength}`)) return false;
  const vn = (await nsm.getNetworkService(outs.networkService))?.tungsten?.virtual_network;
  return vn === undefined || iface.network === vn;
}

async function update(id: string, olds: Record<string, unknown>, news: PodAttachmentInputs): Promise<pulumi.dynamic.UpdateResult> {
  const { nsm } = clients();
  const pod = await podOrThrow(news.pod);
  const interfaceName = news.interfaceName ?? (olds.interfaceName as string);
  return podLocks.run(pod.name, async () => {
    const conn = await nsm.request(requestFor({ ...news, connectionId: id }, pod, interfaceName));
    return { outs: withRecordedInputs(outputsOf(conn, { ...news, connectionId: id }, pod, interfaceName), news) };
  });
}

async function remove(id: string, props: Record<string, unknown>): Promise<void> {
  await clients().nsm.close(compact({ id, network_service: props.networkService as string | undefined }));
}

export const provider: pulumi.dynamic.ResourceProvider = { configure, check, diff, create, read, update, delete: remove };
