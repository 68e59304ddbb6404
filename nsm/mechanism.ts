// The kernel mechanism: which Linux interface a client gets, and in which network namespace.
import type { Mechanism } from "../wire/nsm/api.ts";
import { KERNEL, MechanismParam, POD_UID_LABEL } from "../wire/nsm/api.ts";
import { NsmError } from "./errors.ts";
import { checkIfName, checkNetnsName } from "../lib/validate/names.ts";

const POD_UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NETNS_URL = /^file:\/\/\/var\/run\/netns\/([^/]+)$/;
/** What a forwarder can resolve itself: a namespace file (file:///proc/<pid>/ns/net, ...) or NSM's inode://<st_dev>/<st_ino>. */
const RESOLVABLE_URL = /^(?:file:\/\/\/[^\0]+|inode:\/\/\d+\/\d+)$/;

/** `file:///var/run/netns/<netns>` */
export const netnsUrl = (netns: string): string => `file:///var/run/netns/${netns}`;

/**
 * Picks the kernel mechanism from the client's preferences (or the connection's own mechanism) and
 * checks its parameters: a netns (netnsName or inodeURL) is required, an interface name is optional
 * (the forwarder then picks nsm-<n>). Returns it with both netnsName and inodeURL set, except for an
 * inodeURL naming the namespace by path or inode only, and for a client that names neither but gives
 * its pod's uid (label podUid: a pod on a real cluster, seen from outside it): the forwarder resolves those.
 */
export function kernelMechanism(preferences: Mechanism[] | undefined, current: Mechanism | undefined, labels: Record<string, string> = {}): Mechanism {
  const m = [...(preferences ?? []), ...(current ? [current] : [])].find((p) => p?.type === KERNEL);
  if (!m) {
    const offered = [...(preferences ?? []), ...(current ? [current] : [])].map((p) => p?.type).join(", ");
    throw new NsmError(400, `no KERNEL mechanism requested${offered ? ` (offered: ${offered})` : ""}; this manager only builds kernel interfaces`);
  }
  const params = m.parameters ?? {};
  for (const [k, v] of Object.entries(params)) {
    if (typeof v !== "string") throw new NsmError(400, `mechanism parameter ${k} must be a string`);
  }
  const url = params[MechanismParam.inodeURL];
  const fromUrl = url ? NETNS_URL.exec(url)?.[1] : undefined;
  if (url && !fromUrl && !RESOLVABLE_URL.test(url)) {
    throw new NsmError(400, `mechanism parameter inodeURL must be file:///var/run/netns/<netns>, another file:// path of a network namespace, or inode://<dev>/<ino>, got "${url}"`);
  }
  const netns = params[MechanismParam.netnsName] || fromUrl;
  if (!netns && !url) {
    const uid = labels[POD_UID_LABEL];
    if (uid === undefined) throw new NsmError(400, `the kernel mechanism needs the client's network namespace (parameter netnsName or inodeURL, or the client label ${POD_UID_LABEL})`);
    if (!POD_UID.test(uid)) throw new NsmError(400, `client label ${POD_UID_LABEL} must be a pod's uid (a UUID), got "${uid}"`);
  }
  if (fromUrl && params[MechanismParam.netnsName] && fromUrl !== params[MechanismParam.netnsName]) {
    throw new NsmError(400, `mechanism parameters disagree: netnsName "${params[MechanismParam.netnsName]}" vs inodeURL "${params[MechanismParam.inodeURL]}"`);
  }
  // The forwarder finds a namespace given only by a path or an inode (see nsm/netnsUrl.ts).
  if (!netns) return { cls: "LOCAL", type: KERNEL, parameters: checkedOptional(params) };
  const netnsProblem = checkNetnsName(netns);
  if (netnsProblem) throw new NsmError(400, `mechanism parameter netnsName: ${netnsProblem}`);
  const checked = checkedOptional(params);
  return {
    cls: "LOCAL",
    type: KERNEL,
    parameters: { ...checked, [MechanismParam.netnsName]: netns, [MechanismParam.inodeURL]: url && !fromUrl ? url : netnsUrl(netns) },
  };
}

/** The parameters with the interface name and MTU checked. */
function checkedOptional(params: Record<string, string>): Record<string, string> {
  const name = params[MechanismParam.name];
  if (name) {
    const ifProblem = checkIfName(name);
    if (ifProblem) throw new NsmError(400, `mechanism parameter name: ${ifProblem}`);
  }
  const mtu = params[MechanismParam.mtu];
  if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= 68 && Number(mtu) <= 65535)) {
    throw new NsmError(400, `mechanism parameter MTU must be a number between 68 and 65535, got "${mtu}"`);
  }
  return { ...params };
}

export const interfaceNameOf = (m: Mechanism | undefined): string | undefined => m?.parameters?.[MechanismParam.name] || undefined;
export const netnsOf = (m: Mechanism | undefined): string | undefined => m?.parameters?.[MechanismParam.netnsName] || undefined;
