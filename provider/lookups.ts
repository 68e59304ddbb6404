// Lookups of objects that exist outside the stack, in the shape Pulumi's generated SDKs use:
// `getX(args)` answers a Promise, `getXOutput(args)` takes Inputs and answers an Output. They run
// in the program (at preview too) against the endpoints the stack config, the environment or the
// lab's endpoints.json name, as the resources do.
import * as pulumi from "@pulumi/pulumi";
import { resolveSettings } from "../wire/settings.ts";
import type { ConfigGetter } from "../wire/settings.ts";
import { connect, LAB_START_HINT_OPTIONS } from "./impl/context.ts";
import * as lookups from "./impl/lookups.ts";
import type { LookupContext } from "./impl/lookups.ts";
import type { VirtualMachinePort } from "./virtualMachine.ts";
import type { VirtualNetworkSubnet } from "./virtualNetwork.ts";

export interface GetVirtualNetworkArgs {
  /** Fully qualified name, e.g. "default-domain:admin:red". Give this or `uuid`. */
  fqName?: string;
  /** TF uuid (the Neutron network id). Give this or `fqName`. */
  uuid?: string;
}

export interface GetVirtualNetworkResult {
  readonly uuid: string;
  readonly fqName: string;
  readonly name: string;
  readonly project: string;
  readonly ipam: string;
  readonly networkId: number;
  readonly subnets: VirtualNetworkSubnet[];
}

export interface GetVirtualMachineArgs {
  /** Nova server name (exactly one server may carry it). Give this or `id`. */
  name?: string;
  /** Nova server id. Give this or `name`. */
  id?: string;
}

export interface GetVirtualMachineResult {
  readonly serverId: string;
  readonly name: string;
  readonly status: string;
  readonly host?: string;
  readonly imageId: string;
  readonly flavorId: string;
  readonly addresses: Record<string, string[]>;
  readonly ports: VirtualMachinePort[];
  readonly ip: string;
}

export interface GetNetworkServiceArgs {
  /** Name of the service in the NSM registry. */
  name: string;
}

export interface GetNetworkServiceResult {
  readonly name: string;
  readonly forwarder: string;
  readonly payload: string;
  readonly virtualNetwork?: string;
  readonly cidr?: string;
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

// The program's stack config, read raw (a secret such as openstack:password arrives decrypted,
// without the warning Config.get gives for secrets).
const programConfig: ConfigGetter = (key) => pulumi.runtime.getConfig(key);

let context: LookupContext | undefined;
function lookupContext(): LookupContext {
  if (!context) {
    const settings = resolveSettings({ config: programConfig, env: process.env });
    context = { settings, clients: connect(settings, programConfig, LAB_START_HINT_OPTIONS) };
  }
  return context;
}

// A failed lookup ends the program with its message alone (no stack trace of ours).
async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new pulumi.RunError((err as Error).message ?? String(err));
  }
}

/** An existing TF virtual network, by fq_name or uuid. */
export function getVirtualNetwork(args: GetVirtualNetworkArgs): Promise<GetVirtualNetworkResult> {
  return run(() => lookups.virtualNetwork(lookupContext(), args));
}

export function getVirtualNetworkOutput(args: Inputs<GetVirtualNetworkArgs>): pulumi.Output<GetVirtualNetworkResult> {
  return pulumi.output(args).apply((a) => getVirtualNetwork(a as GetVirtualNetworkArgs));
}

/** An existing OpenStack server, by name or id. */
export function getVirtualMachine(args: GetVirtualMachineArgs): Promise<GetVirtualMachineResult> {
  return run(() => lookups.virtualMachine(lookupContext(), args));
}

export function getVirtualMachineOutput(args: Inputs<GetVirtualMachineArgs>): pulumi.Output<GetVirtualMachineResult> {
  return pulumi.output(args).apply((a) => getVirtualMachine(a as GetVirtualMachineArgs));
}

/** An existing NSM network service, by name. */
export function getNetworkService(args: GetNetworkServiceArgs): Promise<GetNetworkServiceResult> {
  return run(() => lookups.networkService(lookupContext(), args));
}

export function getNetworkServiceOutput(args: Inputs<GetNetworkServiceArgs>): pulumi.Output<GetNetworkServiceResult> {
  return pulumi.output(args).apply((a) => getNetworkService(a as GetNetworkServiceArgs));
}
