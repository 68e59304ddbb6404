// The kernel mechanism: which Linux interface a client gets, and in which network namespace.
import type { Mechanism } from "../wire/nsm/api.ts";
import { KERNEL, MechanismParam } from "../wire/nsm/api.ts";
import { NsmError } from "./errors.ts";
import { checkIfName, checkNetnsName } from "../lib/validate/names.ts";

const NETNS_URL = /^file:\/\/\/var\/run\/netns\/([^/]+)$/;

/** `file:///var/run/netns/<netns>` */
export const netnsUrl = (netns: string): string => `file:///var/run/netns/${netns}`;

/**
 * Picks the kernel mechanism from the client's preferences (or the connection's own mechanism) and
 * checks its parameters: a netns (netnsName or inodeURL) is required, an interface name is optional
 * (the forwarder then picks nsm-<n>). Returns it with both netnsName and inodeURL set.
 */
export function kernelMechanism(preferences: Mechanism[] | undefined, current: Mechanism | undefined): Mechanism {
  const m = [...(preferences ?? []), ...(current ? [current] : [])].find((p) => p?.type === KERNEL);
  if (!m) {
    const offered = [...(preferences ?? []), ...(current ? [current] : [])].map((p) => p?.type).join(", ");
    throw new NsmError(400, `no KERNEL mechanism requested${offered ? ` (offered: ${offered})` : ""}; this manager only builds kernel interfaces`);
  }
  const params = m.parameters ?? {};
  for (const [k, v] of Object.entries(params)) {
    if (typeof v !== "string") throw new NsmError(400, `mechanism parameter ${k} must be a string`);
  }
  const fromUrl = params[MechanismParam.inodeURL] ? NETNS_URL.exec(params[MechanismParam.inodeURL]!)?.[1] : undefined;
  if (params[MechanismParam.inodeURL] && !fromUrl) {
    throw new NsmError(400, `mechanism parameter inodeURL must be file:///var/run/netns/<netns>, got "${params[MechanismParam.inodeURL]}"`);
  }
  const netns = params[MechanismParam.netnsName] || fromUrl;
  if (!netns) throw new NsmError(400, "the kernel mechanism needs the client's network namespace (parameter netnsName or inodeURL)");
  if (fromUrl && params[MechanismParam.netnsName] && fromUrl !== params[MechanismParam.netnsName]) {
    throw new NsmError(400, `mechanism parameters disagree: netnsName "${params[MechanismParam.netnsName]}" vs inodeURL "${params[MechanismParam.inodeURL]}"`);
  }
  const netnsProblem = checkNetnsName(netns);
  if (netnsProblem) throw new NsmError(400, `mechanism parameter netnsName: ${netnsProblem}`);
  const name = params[MechanismParam.name];
  if (name) {
    const ifProblem = checkIfName(name);
    if (ifProblem) throw new NsmError(400, `mechanism parameter name: ${ifProblem}`);
  }
  const mtu = params[MechanismParam.mtu];
  if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= 68 && Number(mtu) <= 65535)) {
    throw new NsmError(400, `mechanism parameter MTU must be a number between 68 and 65535, got "${mtu}"`);
  }
  return {
    cls: "LOCAL",
    type: KERNEL,
    parameters: { ...params, [MechanismParam.netnsName]: netns, [MechanismParam.inodeURL]: netnsUrl(netns) },
  };
}

export const interfaceNameOf = (m: Mechanism | undefined): string | undefined => m?.parameters?.[MechanismParam.name] || undefined;
export const netnsOf = (m: Mechanism | undefined): string | undefined => m?.parameters?.[MechanismParam.netnsName] || undefined;
