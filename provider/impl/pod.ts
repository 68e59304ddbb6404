// Pod: a pod of the lab's pod runtime (a network namespace with eth0 on the pod network), the
// client that PodAttachment plugs NSM interfaces into. On a real cluster pods come from
// Kubernetes instead (see components/k8s).
//
// Crashes: the pod is created with the resource's URN as its tfmesh-owner annotation, so a create
// retried after a crash finds the pod by name and takes it over (waiting while it is still
// Pending) instead of failing "already exists"; a pod of that name without this owner is refused.
import type * as pulumi from "@pulumi/pulumi";
import { crashPoint } from "../../lib/crashPoint.ts";
import { isStatus } from "../../lib/http/client.ts";
import { checkK8sName } from "../../lib/validate/names.ts";
import type { PodInfo } from "../../wire/pods.ts";
import { clients, configure, lookup, progress, quickClients, settings } from "./context.ts";
import { withPlainErrors } from "./plainErrors.ts";
import { OWNER, OWNER_KEY, checkOwner, ownerOf } from "./identity.ts";
import { Failures, changedKeys, compact, isUnknown, optionalString, recordedInputs, withRecordedInputs } from "./inputs.ts";
import { LOGICAL_NAME, decideName, dnsLabel } from "./naming.ts";

export interface PodInputs {
  [LOGICAL_NAME]?: string;
  [OWNER]?: string;
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
  const owner = checkOwner(f, news);
  if (f.empty && olds.name === undefined && typeof name === "string" && !isUnknown(name)) {
    const existing = await lookup(() => quickClients().pods.get(name));
    if (existing.status === "ok" && existing.value && !isMine(existing.value, owner)) f.add("name", alreadyExists(existing.value));
  }
  return { inputs: compact({ [LOGICAL_NAME]: news[LOGICAL_NAME], [OWNER]: owner, name, node }), failures: f.list };
}

/** Whether the pod was created for this owner (an interrupted create of it made the pod). */
function isMine(pod: PodInfo, owner: string | undefined): boolean {
  return owner !== undefined && !isUnknown(owner) && pod.annotations?.[OWNER_KEY] === owner;
}

function alreadyExists(pod: PodInfo): string {
  const by = pod.annotations?.[OWNER_KEY];
  return `pod "${pod.name}" already exists in the pod runtime at ${settings().podsUrl}${by ? ` (made by ${by})` : ""}; pick another name`;
}

async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = changedKeys(olds, news, ["name"]);
  // `node` is also an output (where the runtime placed the pod): only a requested node counts.
  if (news.node !== undefined && (isUnknown(news.node) || news.node !== olds.node)) replaces.push("node");
  // Same name (on another node, or a replacement the engine forces): the old pod must go first,
  // names are unique.
  return { changes: replaces.length > 0, replaces, deleteBeforeReplace: !replaces.includes("name") };
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
  const owner = ownerOf(inputs as unknown as Record<string, unknown>);
  const { pods } = clients();
  let pod: PodInfo;
  try {
    pod = await pods.create(compact({ name: inputs.name, node: inputs.node, annotations: owner !== undefined ? { [OWNER_KEY]: owner } : undefined }));
    // Test hook: the provider dies with the pod made and not yet in the engine's state.
    crashPoint("pod.created");
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
    const existing = await pods.get(inputs.name);
    if (!existing || !isMine(existing, owner)) throw new Error(`name: ${existing ? alreadyExists(existing) : `pod "${inputs.name}" already exists in the pod runtime at ${settings().podsUrl}; pick another name`}`);
    if (inputs.node !== undefined && existing.node !== inputs.node) {
      // Ours and never tracked, but on another node than the program now asks for: make it again.
      progress(`deleting pod ${inputs.name} on ${existing.node}, which an interrupted create of ${owner} made; the program asks for ${inputs.node}`);
      await pods.delete(inputs.name);
      return create(inputs);
    }
    progress(`taking over pod ${inputs.name}, which an interrupted create of ${owner} made`);
    pod = await untilRunning(existing);
  }
  return { id: pod.name, outs: withRecordedInputs(outputsOf(pod, inputs[LOGICAL_NAME]), inputs) };
}

/** The pod once Running (a pod the runtime is still making, or finishing after its restart). */
async function untilRunning(pod: PodInfo): Promise<PodInfo> {
  const deadline = Date.now() + 60_000;
  let now: PodInfo | undefined = pod;
  while (now && now.status !== "Running") {
    if (Date.now() > deadline) throw new Error(`pod ${pod.name} is still ${now.status} after 60 s`);
    await new Promise((r) => setTimeout(r, 250));
    now = await clients().pods.get(pod.name);
  }
  if (!now) throw new Error(`pod ${pod.name} disappeared while it was being made`);
  return now;
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

export const provider: pulumi.dynamic.ResourceProvider = withPlainErrors({ configure, check, diff, create, read, update, delete: remove });
