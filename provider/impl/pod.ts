// Pod: a pod of the lab's pod runtime (a network namespace with eth0 on the pod network), the
// client that PodAttachment plugs NSM interfaces into. On a real cluster pods come from
// Kubernetes instead (see components/k8s).
import type * as pulumi from "@pulumi/pulumi";
import { isStatus } from "../../lib/http/client.ts";
import { checkK8sName } from "../../lib/validate/names.ts";
import type { PodInfo } from "../../wire/pods.ts";
import { clients, configure, lookup, quickClients, settings } from "./context.ts";
import { Failures, changedKeys, compact, isUnknown, optionalString, recordedInputs, withRecordedInputs } from "./inputs.ts";
import { LOGICAL_NAME, decideName, dnsLabel } from "./naming.ts";

export interface PodInputs {
  [LOGICAL_NAME]?: string;
  name: string;
  /** k8s node to run on; the runtime picks one when absent. */
  node?: string;
}

export interface PodOutputs {
  [LOGICAL_NAME]?: string;
  name: string;
  node: string;
  netns: string;
  uid: string;
  status: string;
  eth0: { ip: string; prefixLength: number; mac: string };
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const f = new Failures();
  const name = decideName(f, olds, news, { check: checkK8sName, sanitize: dnsLabel, maxLength: 63 });
  const node = optionalString(f, "node", news.node);
  if (node !== undefined && !isUnknown(node)) f.add("node", checkK8sName(node));
  if (f.empty && olds.name === undefined && typeof name === "string" && !isUnknown(name)) {
    const existing = await lookup(() => quickClients().pods.get(name));
    if (existing.status === "ok" && existing.value) f.add("name", `pod "${name}" already exists in the pod runtime at ${settings().podsUrl}; pick another name`);
  }
  return { inputs: compact({ [LOGICAL_NAME]: news[LOGICAL_NAME], name, node }), failures: f.list };
}

async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = changedKeys(olds, news, ["name"]);
  // `node` is also an output (where the runtime placed the pod): only a requested node counts.
  if (news.node !== undefined && (isUnknown(news.node) || news.node !== olds.node)) replaces.push("node");
  // Same name on another node: the old pod must go first, names are unique.
  return { changes: replaces.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 && !replaces.includes("name") };
}

function outputsOf(pod: PodInfo, logical: unknown): PodOutputs {
  return compact({
    [LOGICAL_NAME]: logical as string | undefined,
    name: pod.name,
    node: pod.node,
    netns: pod.netns,
    uid: pod.uid,
    status: pod.status,
    eth0: pod.eth0,
  });
}

async function create(inputs: PodInputs): Promise<pulumi.dynamic.CreateResult> {
  try {
    const pod = await clients().pods.create(compact({ name: inputs.name, node: inputs.node }));
    return { id: pod.name, outs: withRecordedInputs(outputsOf(pod, inputs[LOGICAL_NAME]), inputs) };
  } catch (err) {
    if (isStatus(err, 409)) throw new Error(`pod "${inputs.name}" already exists in the pod runtime at ${settings().podsUrl}; pick another name`);
    throw err;
  }
}

async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const pod = await clients().pods.get(id);
  if (!pod) return { id: "" };
  // State from before outputs recorded their inputs cannot tell a requested node from the runtime's choice.
  const was = recordedInputs(props) ?? { [LOGICAL_NAME]: props[LOGICAL_NAME], name: props.name };
  const inputs = compact({ ...was, name: pod.name, node: was.node === undefined ? undefined : pod.node });
  return { id, props: withRecordedInputs(outputsOf(pod, props[LOGICAL_NAME]), inputs), inputs };
}

// Nothing of a pod changes in place; diff only ever asks for replacement.
async function update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: withRecordedInputs(olds, news) };
}

async function remove(id: string): Promise<void> {
  await clients().pods.delete(id);
}

export const provider: pulumi.dynamic.ResourceProvider = { configure, check, diff, create, read, update, delete: remove };
