// Lookups of objects that exist outside the stack (getVirtualNetwork, getVirtualMachine,
// getNetworkService): they run in the program process, at preview as at up, read the object with
// the same clients and answer in the same shape as the resource's outputs. An object that does
// not exist is an error naming the argument that pointed at it.
import { orUndefinedOn404 } from "../../lib/http/client.ts";
import { checkFqName } from "../../lib/validate/fqname.ts";
import { checkUuid } from "../../lib/validate/uuid.ts";
import { isGone } from "../../wire/openstack/index.ts";
import type { Settings } from "../../wire/settings.ts";
import type { Clients } from "./context.ts";
import { outputsOf as networkServiceOutputs } from "./networkService.ts";
import type { NetworkServiceOutputs } from "./networkService.ts";
import { outputsOf as virtualMachineOutputs } from "./virtualMachine.ts";
import type { VirtualMachineOutputs } from "./virtualMachine.ts";
import { outputsOf as virtualNetworkOutputs } from "./virtualNetwork.ts";
import type { VirtualNetworkOutputs } from "./virtualNetwork.ts";

/** A lookup that found nothing or was asked wrongly; the message starts with the function and argument. */
export class LookupError extends Error {
  constructor(fn: string, argument: string, reason: string) {
    super(`${fn}: ${argument}: ${reason}`);
    this.name = "LookupError";
  }
}

/** Exactly one of `keys` must be set in args (a non-empty string); returns which. */
function oneOf<K extends string>(fn: string, args: Partial<Record<K, unknown>> | undefined, keys: readonly K[]): K {
  const given = keys.filter((k) => args?.[k] !== undefined && args[k] !== null && args[k] !== "");
  if (given.length !== 1) throw new LookupError(fn, keys.join(" | "), given.length === 0 ? `give one of ${keys.join(", ")}` : `give only one of ${given.join(", ")}`);
  const key = given[0]!;
  if (typeof args![key] !== "string") throw new LookupError(fn, key, `must be a string, got ${JSON.stringify(args![key])}`);
  return key;
}

export type NetworkLookup = Omit<VirtualNetworkOutputs, "__logicalName">;

/** Where the lookups look: the clients, and the settings they were made from (for messages). */
export interface LookupContext {
  clients: Clients;
  settings: Settings;
}

export async function virtualNetwork({ clients, settings }: LookupContext, args: { fqName?: string; uuid?: string }): Promise<NetworkLookup> {
  const fn = "getVirtualNetwork";
  const by = oneOf(fn, args, ["fqName", "uuid"] as const);
  const value = args[by]!;
  const where = `in TF at ${settings.tfApiUrl}`;
  const read = { excludeBackRefs: true, excludeChildren: true };
  if (by === "fqName") {
    const problem = checkFqName(value, { length: 3 });
    if (problem) throw new LookupError(fn, "fqName", problem);
    const vn = await clients.tf.readByFqName("virtual-network", value.split(":"), read);
    if (!vn) throw new LookupError(fn, "fqName", `there is no virtual network ${value} ${where}`);
    return virtualNetworkOutputs(vn, {});
  }
  const problem = checkUuid(value);
  if (problem) throw new LookupError(fn, "uuid", problem);
  const vn = await orUndefinedOn404(clients.tf.read("virtual-network", value, read));
  if (!vn) throw new LookupError(fn, "uuid", `there is no virtual network ${value} ${where}`);
  return virtualNetworkOutputs(vn, {});
}

export type MachineLookup = Omit<VirtualMachineOutputs, "__logicalName" | "adminPass" | "image" | "flavor" | "networks" | "timeoutSeconds">;

export async function virtualMachine({ clients }: LookupContext, args: { name?: string; id?: string }): Promise<MachineLookup> {
  const fn = "getVirtualMachine";
  const by = oneOf(fn, args, ["name", "id"] as const);
  const value = args[by]!;
  const nova = clients.openstack.nova;
  let server;
  if (by === "id") {
    server = await nova.getServer(value);
    if (!server || isGone(server)) throw new LookupError(fn, "id", `there is no server ${value} in Nova`);
  } else {
    const named = await nova.serversNamed(value);
    if (named.length === 0) throw new LookupError(fn, "name", `there is no server named "${value}" in Nova`);
    if (named.length > 1) throw new LookupError(fn, "name", `${named.length} servers are named "${value}" (${named.map((s) => s.id).join(", ")}); look one up by id`);
    server = named[0]!;
  }
  const { image: _image, flavor: _flavor, networks: _networks, ...found } = await virtualMachineOutputs(clients.openstack, server, {});
  return found;
}

export type ServiceLookup = Omit<NetworkServiceOutputs, "__logicalName">;

export async function networkService({ clients, settings }: LookupContext, args: { name?: string }): Promise<ServiceLookup> {
  const fn = "getNetworkService";
  const name = args?.[oneOf(fn, args, ["name"] as const)]!;
  const ns = await clients.nsm.getNetworkService(name);
  if (!ns) throw new LookupError(fn, "name", `there is no network service "${name}" in the NSM registry at ${settings.nsmTarget}`);
  return networkServiceOutputs(ns, undefined);
}
