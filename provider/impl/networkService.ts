// NetworkService: an NSM registry record naming what pods can ask for, bound to the forwarder
// that realizes it (tungsten: a TF virtual network by fq_name; kernel: a plain CIDR).
//
// Crashes: registering is an upsert by name, but a new service must not take over a record
// someone else registered. NSM's NetworkService has no field to carry an owner, so a create
// retried after a crash takes over a record that is exactly the one it would register (same
// payload, forwarder and binding), and refuses any other.
import type * as pulumi from "@pulumi/pulumi";
import { crashPoint } from "../../lib/crashPoint.ts";
import { checkCidr } from "../../lib/validate/cidr.ts";
import { checkFqName } from "../../lib/validate/fqname.ts";
import { checkK8sName, checkResourceName } from "../../lib/validate/names.ts";
import { FORWARDER_SERVICE } from "../../wire/nsm/api.ts";
import type { NetworkService } from "../../wire/nsm/api.ts";
import { Code } from "@connectrpc/connect";
import { isNsmCode } from "../../wire/nsm/grpcErrors.ts";
import { clients, configure, lookup, progress, quickClients, settings } from "./context.ts";
import { withPlainErrors } from "./plainErrors.ts";
import { deleteConverging, networkServiceBlockers } from "./convergentDelete.ts";
import { OWNER, checkOwner, ownerOf } from "./identity.ts";
import { Failures, changedKeys, compact, isUnknown, optionalString, inputsOf, withRecordedInputs } from "./inputs.ts";
import { LOGICAL_NAME, decideName, dnsLabel } from "./naming.ts";

/** Forwarders this project ships; others count as known once they register in the registry. */
export const BUILTIN_FORWARDERS = ["tungsten", "kernel"] as const;
export const PAYLOADS = ["ETHERNET", "IP"] as const;

export interface NetworkServiceInputs {
  [LOGICAL_NAME]?: string;
  [OWNER]?: string;
  name: string;
  forwarder: string;
  payload: "ETHERNET" | "IP";
  /** TF virtual network fq_name ("default-domain:admin:red"); tungsten forwarder. */
  virtualNetwork?: string;
  /** Address range handed out by the kernel forwarder. */
  cidr?: string;
}

export type NetworkServiceOutputs = NetworkServiceInputs;

async function registeredForwarders(): Promise<{ status: "ok"; types: string[] } | { status: "unreachable" } | { status: "failed"; message: string }> {
  const r = await lookup(() => quickClients().nsm.listEndpoints(FORWARDER_SERVICE));
  if (r.status !== "ok") return r;
  const types = r.value.map((e) => e.network_service_labels?.[FORWARDER_SERVICE]?.labels?.type).filter((t): t is string => !!t);
  return { status: "ok", types: [...new Set(types)] };
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const f = new Failures();
  const name = decideName(f, olds, news, { check: checkK8sName, sanitize: dnsLabel, maxLength: 63 });
  const forwarder = optionalString(f, "forwarder", news.forwarder) ?? "tungsten";
  const payload = optionalString(f, "payload", news.payload) ?? "ETHERNET";
  if (!isUnknown(payload) && !(PAYLOADS as readonly string[]).includes(payload)) f.add("payload", `must be one of ${PAYLOADS.join(", ")}, got "${payload}"`);
  const virtualNetwork = optionalString(f, "virtualNetwork", news.virtualNetwork);
  const cidr = optionalString(f, "cidr", news.cidr);
  const owner = checkOwner(f, news);

  if (forwarder === "tungsten" && virtualNetwork === undefined) {
    f.add("virtualNetwork", 'the tungsten forwarder needs the TF virtual network fq_name, e.g. "default-domain:admin:red"');
  }
  if (virtualNetwork !== undefined && !isUnknown(virtualNetwork)) {
    const problem = checkFqName(virtualNetwork, { length: 3 });
    f.add("virtualNetwork", problem);
    if (!problem) {
      const bad = virtualNetwork.split(":").map(checkResourceName).find((r) => r !== undefined);
      f.add("virtualNetwork", bad);
    }
  }
  if (forwarder === "kernel" && cidr === undefined) f.add("cidr", 'the kernel forwarder needs the address range to hand out, e.g. "10.9.0.0/24"');
  if (cidr !== undefined && !isUnknown(cidr)) f.add("cidr", checkCidr(cidr));

  if (!isUnknown(forwarder)) {
    const reg = await registeredForwarders();
    const known = new Set<string>(BUILTIN_FORWARDERS);
    if (reg.status === "ok") reg.types.forEach((t) => known.add(t));
    if (!known.has(forwarder)) {
      f.add("forwarder", `unknown forwarder "${forwarder}"; known: ${[...known].sort().join(", ")}`);
    } else if (reg.status === "ok" && reg.types.length > 0 && !reg.types.includes(forwarder)) {
      f.add("forwarder", `no "${forwarder}" forwarder is registered in NSM at ${settings().nsmTarget} (registered: ${reg.types.join(", ")})`);
    }
  }

  const inputs = compact({ [LOGICAL_NAME]: news[LOGICAL_NAME], [OWNER]: owner, name, forwarder, payload, virtualNetwork, cidr });
  // A new service must not silently take over a record someone else registered.
  if (f.empty && olds.name === undefined && typeof name === "string" && !isUnknown(name)) {
    const existing = await lookup(() => quickClients().nsm.getNetworkService(name));
    if (existing.status === "ok" && existing.value) {
      const mine = retakeable(existing.value, inputs as NetworkServiceInputs);
      if (mine === false) f.add("name", alreadyRegistered(name));
    }
  }

  return { inputs, failures: f.list };
}

async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = changedKeys(olds, news, ["name"]);
  const inPlace = changedKeys(olds, news, ["forwarder", "payload", "virtualNetwork", "cidr"]);
  // A replacement the engine forces (--replace, replaceOnChanges) keeps the name, which only one
  // record can have: the old one goes first.
  return { changes: replaces.length + inPlace.length > 0, replaces, deleteBeforeReplace: replaces.length === 0 };
}

function record(inputs: NetworkServiceInputs): NetworkService {
  return compact({
    name: inputs.name,
    payload: inputs.payload,
    forwarder: inputs.forwarder,
    tungsten: inputs.virtualNetwork ? { virtual_network: inputs.virtualNetwork } : undefined,
    kernel: inputs.cidr ? { cidr: inputs.cidr } : undefined,
  });
}

export function outputsOf(ns: NetworkService, logical: unknown): NetworkServiceOutputs {
  return compact({
    [LOGICAL_NAME]: logical as string | undefined,
    name: ns.name,
    forwarder: ns.forwarder,
    payload: ns.payload,
    virtualNetwork: ns.tungsten?.virtual_network,
    cidr: ns.kernel?.cidr,
  });
}

// The forwarder would fail the first Request otherwise; failing here names the real problem.
async function assertVirtualNetworkExists(inputs: NetworkServiceInputs): Promise<void> {
  if (!inputs.virtualNetwork) return;
  const uuid = await clients().tf.lookupId("virtual-network", inputs.virtualNetwork.split(":"));
  if (!uuid) throw new Error(`virtualNetwork: ${inputs.virtualNetwork} does not exist in TF at ${settings().tfApiUrl}`);
}

const alreadyRegistered = (name: string) => `network service "${name}" is already registered in NSM at ${settings().nsmTarget}; pick another name`;

/**
 * Whether a record found under the name of a new service may be taken over: true when it is the
 * very record this resource registers (an interrupted create of it left it), false when it is
 * not, undefined while the program's values are not known yet (preview).
 */
function retakeable(existing: NetworkService, inputs: NetworkServiceInputs): boolean | undefined {
  if (ownerOf(inputs as unknown as Record<string, unknown>) === undefined) return false;
  if ([inputs.forwarder, inputs.payload, inputs.virtualNetwork, inputs.cidr].some(isUnknown)) return undefined;
  const want = record(inputs);
  const have = compact({ name: existing.name, payload: existing.payload, forwarder: existing.forwarder, tungsten: existing.tungsten, kernel: existing.kernel });
  return JSON.stringify(have) === JSON.stringify(want);
}

async function create(inputs: NetworkServiceInputs): Promise<pulumi.dynamic.CreateResult> {
  const { nsm } = clients();
  await assertVirtualNetworkExists(inputs);
  const existing = await nsm.getNetworkService(inputs.name);
  if (existing) {
    if (retakeable(existing, inputs) !== true) throw new Error(alreadyRegistered(inputs.name));
    progress(`taking over network service "${inputs.name}", registered as this resource registers it (an interrupted create of ${ownerOf(inputs as unknown as Record<string, unknown>)})`);
    return { id: inputs.name, outs: withRecordedInputs(outputsOf(existing, inputs[LOGICAL_NAME]), inputs) };
  }
  const ns = await nsm.upsertNetworkService(record(inputs));
  // Test hook: the provider dies with the service registered and not yet in the engine's state.
  crashPoint("service.registered");
  return { id: inputs.name, outs: withRecordedInputs(outputsOf(ns, inputs[LOGICAL_NAME]), inputs) };
}

async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const ns = await clients().nsm.getNetworkService(id);
  if (!ns) return { id: "" };
  const outs = outputsOf(ns, props[LOGICAL_NAME]);
  // Every input of a service is a field of its record: the record is the inputs, drifted or not.
  const was = inputsOf(props);
  const inputs = { ...outs, [LOGICAL_NAME]: was[LOGICAL_NAME], [OWNER]: was[OWNER] };
  return { id, props: withRecordedInputs(outs, inputs), inputs: compact(inputs) };
}

async function update(_id: string, _olds: Record<string, unknown>, news: NetworkServiceInputs): Promise<pulumi.dynamic.UpdateResult> {
  await assertVirtualNetworkExists(news);
  const ns = await clients().nsm.upsertNetworkService(record(news));
  return { outs: withRecordedInputs(outputsOf(ns, news[LOGICAL_NAME]), news) };
}

async function remove(id: string, props: Record<string, unknown>): Promise<void> {
  const c = clients();
  const owner = ownerOf(inputsOf(props));
  await deleteConverging({
    what: `network service "${id}"`,
    ...(owner !== undefined ? { owner } : {}),
    attempt: () => c.nsm.deleteNetworkService(id),
    inUse: (err) => isNsmCode(err, Code.FailedPrecondition),
    blockers: () => networkServiceBlockers(c, id),
  });
}

export const provider: pulumi.dynamic.ResourceProvider = withPlainErrors({ configure, check, diff, create, read, update, delete: remove });
