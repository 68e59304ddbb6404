// VirtualNetwork: a TF virtual-network with its subnets on a network-ipam ref
// (shared/reference/tungsten-fabric.md). The server computes gateway, DNS address and subnet
// uuid; we read them back after every write.
//
// Crashes: the network is created with the resource's URN in its annotations (tfmesh-owner), so a
// create retried after a crash finds it by fq_name and takes it over (bringing its subnets to
// what the program says) instead of failing "already exists". A network with the same fq_name and
// another owner (or none) is refused, as before.
import type * as pulumi from "@pulumi/pulumi";
import { crashPoint } from "../../lib/crashPoint.ts";
import { isStatus, orUndefinedOn404 } from "../../lib/http/client.ts";
import { cidrAddress, checkCidr, checkOverlap, checkSubnet, parseCidr } from "../../lib/validate/cidr.ts";
import { checkFqName, formatFqName } from "../../lib/validate/fqname.ts";
import { checkResourceName } from "../../lib/validate/names.ts";
import { isIpv4 } from "../../lib/ipv4.ts";
import type { TfObject, TfRef } from "../../wire/tf.ts";
import { ADOPTED, checkAdoption, leavesInPlace } from "./adoption.ts";
import type { AdoptionInputs } from "./adoption.ts";
import { clients, configure, lookup, progress, quickClients, settings } from "./context.ts";
import { withPlainErrors } from "./plainErrors.ts";
import { deleteConverging, virtualNetworkBlockers } from "./convergentDelete.ts";
import { OWNER, OWNER_KEY, checkOwner, ownerOf, partialCreate } from "./identity.ts";
import { Failures, changedKeys, compact, hasUnknown, isUnknown, optionalString, inputsOf, sameJson, withRecordedInputs } from "./inputs.ts";
import { LOGICAL_NAME, decideName } from "./naming.ts";

export const DEFAULT_PROJECT = "default-domain:admin";
export const DEFAULT_IPAM = "default-domain:default-project:default-network-ipam";
/** A /30 holds only the gateway and the DNS address; ports need at least a /29. */
export const MAX_PREFIX_LENGTH = 29;

export interface AllocationPool {
  start: string;
  end: string;
}

export interface SubnetInputs {
  cidr: string;
  gateway?: string;
  dnsServer?: string;
  allocationPools?: AllocationPool[];
  addrFromStart?: boolean;
}

export interface VirtualNetworkInputs extends AdoptionInputs {
  [LOGICAL_NAME]?: string;
  [OWNER]?: string;
  name: string;
  project: string;
  ipam: string;
  subnets: SubnetInputs[];
}

export interface SubnetOutputs {
  cidr: string;
  gateway: string;
  dnsServer: string;
  subnetUuid: string;
  allocationPools: AllocationPool[];
  addrFromStart: boolean;
}

export interface VirtualNetworkOutputs extends Omit<VirtualNetworkInputs, "subnets" | keyof AdoptionInputs> {
  /** True when create took over an existing network (adopt) instead of creating it. */
  [ADOPTED]?: boolean;
  uuid: string;
  fqName: string;
  networkId: number;
  subnets: SubnetOutputs[];
}

interface IpamSubnet {
  subnet: { ip_prefix: string; ip_prefix_len: number };
  default_gateway?: string;
  dns_server_address?: string;
  subnet_uuid?: string;
  allocation_pools?: AllocationPool[];
  addr_from_start?: boolean;
  enable_dhcp?: boolean;
}

type IpamRef = TfRef<{ ipam_subnets?: IpamSubnet[] }>;

// checkSubnet's reasons start with the part they are about; this maps them to the input property.
function subnetProperty(base: string, reason: string): { property: string; reason: string } {
  const m = /^(cidr|gateway|dns server|allocation pool (\d+)): (.*)$/s.exec(reason);
  if (!m) return { property: base, reason };
  const part = m[1]!;
  const rest = m[3]!;
  if (part === "cidr") return { property: `${base}.cidr`, reason: rest };
  if (part === "gateway") return { property: `${base}.gateway`, reason: rest };
  if (part === "dns server") return { property: `${base}.dnsServer`, reason: rest };
  return { property: `${base}.allocationPools[${Number(m[2]) - 1}]`, reason: rest };
}

function checkSubnets(f: Failures, raw: unknown): SubnetInputs[] | unknown {
  if (isUnknown(raw)) return raw;
  if (!Array.isArray(raw) || raw.length === 0) {
    f.add("subnets", 'needs at least one subnet, e.g. [{ cidr: "10.1.1.0/24" }]');
    return raw;
  }
  const known: string[] = [];
  raw.forEach((s: unknown, i: number) => {
    const base = `subnets[${i}]`;
    if (isUnknown(s)) return;
    if (!s || typeof s !== "object" || Array.isArray(s)) {
      f.add(base, 'must be an object such as { cidr: "10.1.1.0/24" }');
      return;
    }
    const sub = s as Record<string, unknown>;
    if (sub.addrFromStart !== undefined && !isUnknown(sub.addrFromStart) && typeof sub.addrFromStart !== "boolean") {
      f.add(`${base}.addrFromStart`, "must be true or false");
    }
    if (isUnknown(sub.cidr)) return;
    const cidrProblem = checkCidr(sub.cidr);
    if (cidrProblem) {
      f.add(`${base}.cidr`, cidrProblem);
      return;
    }
    const { prefixLen } = parseCidr(sub.cidr);
    if (prefixLen > MAX_PREFIX_LENGTH) {
      f.add(`${base}.cidr`, `prefix length /${prefixLen} of ${String(sub.cidr)} leaves no address for ports after the gateway and DNS server; use /${MAX_PREFIX_LENGTH} or shorter`);
      return;
    }
    known.push(sub.cidr as string);
    for (const key of ["gateway", "dnsServer"] as const) {
      const v = sub[key];
      if (v !== undefined && !isUnknown(v) && !isIpv4(v)) f.add(`${base}.${key}`, `"${String(v)}" is not an IPv4 address`);
    }
    if (hasUnknown(sub.gateway) || hasUnknown(sub.dnsServer) || hasUnknown(sub.allocationPools)) return;
    if (sub.allocationPools !== undefined && !Array.isArray(sub.allocationPools)) {
      f.add(`${base}.allocationPools`, "must be a list of { start, end }");
      return;
    }
    const problem = checkSubnet({
      cidr: sub.cidr as string,
      gateway: (sub.gateway as string | undefined) ?? null,
      dnsServer: (sub.dnsServer as string | undefined) ?? null,
      allocationPools: (sub.allocationPools as AllocationPool[] | undefined) ?? null,
    });
    if (problem) {
      const p = subnetProperty(base, problem);
      f.add(p.property, p.reason);
    }
  });
  const overlap = checkOverlap(known);
  if (overlap) f.add("subnets", `subnets overlap: ${overlap}`);
  return raw;
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const f = new Failures();
  const name = decideName(f, olds, news, { check: checkResourceName });
  const project = optionalString(f, "project", news.project) ?? DEFAULT_PROJECT;
  if (!isUnknown(project)) f.add("project", checkFqName(project, { length: 2 }));
  const ipam = optionalString(f, "ipam", news.ipam) ?? DEFAULT_IPAM;
  if (!isUnknown(ipam)) f.add("ipam", checkFqName(ipam, { length: 3 }));
  const subnets = checkSubnets(f, news.subnets);

  const { adopt, deleteAdopted } = checkAdoption(f, news, "virtual network");
  const owner = checkOwner(f, news);

  // With the lab (or TF) reachable, catch what would fail at create: a missing project, a name
  // taken (or, to adopt, a network that is not there or differs from the program).
  const isNew = olds.name === undefined;
  if (f.empty && !isUnknown(project) && !isUnknown(name) && !isUnknown(adopt)) {
    const tf = quickClients().tf;
    const fq = [...project.split(":"), String(name)];
    const found = await lookup(async () => ({
      project: await tf.lookupId("project", project.split(":")),
      existing: isNew ? await tf.readByFqName("virtual-network", fq, { excludeBackRefs: true, excludeChildren: true }) : undefined,
    }));
    if (found.status === "failed") f.add("project", `cannot check the project in TF at ${settings().tfApiUrl}: ${found.message}`);
    if (found.status === "ok") {
      const existing = found.value.existing;
      if (!found.value.project) f.add("project", `project ${project} does not exist in TF at ${settings().tfApiUrl}`);
      else if (isNew && adopt === true) {
        if (!existing) f.add("adopt", `there is no virtual network ${formatFqName(fq)} in TF at ${settings().tfApiUrl} to adopt; create it first, or drop adopt to have Pulumi create it`);
        else if (!hasUnknown(subnets)) f.add("subnets", adoptionMismatch(existing, ipam, subnets as SubnetInputs[]));
      } else if (existing && !(owner !== undefined && annotatedOwner(existing) === owner)) {
        f.add("name", alreadyExists(fq, existing));
      }
    }
  }

  const inputs = compact({ [LOGICAL_NAME]: news[LOGICAL_NAME], [OWNER]: owner, name, project, ipam, subnets, adopt, deleteAdopted });
  return { inputs, failures: f.list };
}

/** The owner a network was created for (its tfmesh-owner annotation), if any. */
export function annotatedOwner(vn: TfObject): string | undefined {
  const pairs = (vn.annotations as { key_value_pair?: Array<{ key: string; value: string }> } | undefined)?.key_value_pair ?? [];
  return pairs.find((p) => p.key === OWNER_KEY)?.value;
}

function alreadyExists(fq: string[], existing: TfObject): string {
  const by = annotatedOwner(existing);
  return `virtual network ${formatFqName(fq)} already exists (uuid ${existing.uuid}${by ? `, made by ${by}` : ""}); pick another name, or set adopt: true to manage that network`;
}

/**
 * Why the existing network cannot be adopted as the program declares it, or undefined. Adoption
 * takes a network over as it is: a program that declares other subnets (or another ipam) would
 * change a network others may depend on, so it must first say what is there.
 */
function adoptionMismatch(existing: TfObject, ipam: string, wanted: SubnetInputs[]): string | undefined {
  const have = subnetsOf(existing);
  const fq = formatFqName(existing.fq_name);
  const ipamRef = ((existing.network_ipam_refs as IpamRef[] | undefined) ?? [])[0];
  if (ipamRef && formatFqName(ipamRef.to) !== ipam) return `to adopt ${fq}, declare its ipam as it is: "${formatFqName(ipamRef.to)}" (the program says "${ipam}")`;
  if (sameSubnets(have, wanted)) return undefined;
  return `to adopt ${fq}, declare its subnets as they are: ${JSON.stringify(subnetInputsOf(have, wanted))} (the program says ${JSON.stringify(wanted)})`;
}

/** The gateway TF picks when none is given: last host, or first host with addrFromStart. */
export function defaultGateway(cidr: string, addrFromStart: boolean | undefined): string {
  return addrFromStart ? cidrAddress(cidr, 1) : cidrAddress(cidr, -2);
}

function normalizeCidr(cidr: string): string {
  return parseCidr(cidr, "cidr", { strict: false }).cidr;
}

/** Whether the wanted subnets (inputs) describe what olds (outputs) has; unset fields take TF's defaults. */
export function sameSubnets(have: unknown, want: unknown): boolean {
  if (hasUnknown(want)) return false;
  if (!Array.isArray(have) || !Array.isArray(want) || have.length !== want.length) return false;
  return want.every((w: SubnetInputs, i) => {
    const h = have[i] as Partial<SubnetOutputs> | undefined;
    if (!h || typeof w?.cidr !== "string" || normalizeCidr(w.cidr) !== h.cidr) return false;
    if ((w.addrFromStart ?? false) !== (h.addrFromStart ?? false)) return false;
    if ((w.gateway ?? defaultGateway(w.cidr, w.addrFromStart)) !== h.gateway) return false;
    if (w.dnsServer !== undefined && w.dnsServer !== h.dnsServer) return false;
    return sameJson(w.allocationPools ?? [], h.allocationPools ?? []);
  });
}

async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = changedKeys(olds, news, ["name", "project"]);
  const inPlace = changedKeys(olds, news, ["ipam", "adopt", "deleteAdopted"]);
  if (!sameSubnets(olds.subnets, news.subnets)) inPlace.push("subnets");
  // A replacement the engine forces (--replace, replaceOnChanges) keeps the fq_name, which only
  // one network can have: the old one goes first (and create never mistakes it for its own).
  return { changes: replaces.length + inPlace.length > 0, replaces, deleteBeforeReplace: replaces.length === 0 };
}

function ipamRefs(ipam: string, subnets: SubnetInputs[], keepUuids: SubnetOutputs[] = []): IpamRef[] {
  const ipamSubnets = subnets.map((s): IpamSubnet => {
    const c = parseCidr(s.cidr, "cidr", { strict: false });
    const kept = keepUuids.find((k) => k.cidr === c.cidr);
    return compact({
      subnet: { ip_prefix: c.prefix, ip_prefix_len: c.prefixLen },
      default_gateway: s.gateway,
      dns_server_address: s.dnsServer,
      allocation_pools: s.allocationPools,
      addr_from_start: s.addrFromStart,
      enable_dhcp: true,
      subnet_uuid: kept?.subnetUuid,
    });
  });
  return [{ to: ipam.split(":"), attr: { ipam_subnets: ipamSubnets } }];
}

function subnetsOf(vn: TfObject): SubnetOutputs[] {
  const refs = (vn.network_ipam_refs as IpamRef[] | undefined) ?? [];
  return refs.flatMap((r) =>
    (r.attr?.ipam_subnets ?? []).map((s) => ({
      cidr: `${s.subnet.ip_prefix}/${s.subnet.ip_prefix_len}`,
      gateway: s.default_gateway ?? "",
      dnsServer: s.dns_server_address ?? "",
      subnetUuid: s.subnet_uuid ?? "",
      allocationPools: s.allocation_pools ?? [],
      addrFromStart: s.addr_from_start ?? false,
    })),
  );
}

export function outputsOf(vn: TfObject, inputs: Partial<VirtualNetworkInputs>): VirtualNetworkOutputs {
  const fq = vn.fq_name;
  const ipamRef = ((vn.network_ipam_refs as IpamRef[] | undefined) ?? [])[0];
  return compact({
    [LOGICAL_NAME]: inputs[LOGICAL_NAME],
    name: fq[fq.length - 1]!,
    project: formatFqName(fq.slice(0, -1)),
    ipam: ipamRef ? formatFqName(ipamRef.to) : (inputs.ipam ?? DEFAULT_IPAM),
    uuid: vn.uuid,
    fqName: formatFqName(fq),
    networkId: Number(vn.virtual_network_network_id ?? 0),
    subnets: subnetsOf(vn),
  });
}

async function readVn(uuid: string): Promise<TfObject | undefined> {
  return orUndefinedOn404(clients().tf.read("virtual-network", uuid, { excludeBackRefs: true, excludeChildren: true }));
}

async function create(inputs: VirtualNetworkInputs): Promise<pulumi.dynamic.CreateResult> {
  const tf = clients().tf;
  const fq = [...inputs.project.split(":"), inputs.name];
  if (inputs.adopt) return adopt(fq, inputs);
  const owner = ownerOf(inputs as unknown as Record<string, unknown>);
  if (owner !== undefined) {
    const existing = await tf.readByFqName("virtual-network", fq, { excludeBackRefs: true, excludeChildren: true });
    if (existing) return takeOver(existing, owner, inputs);
  }
  const created = await tf.create("virtual-network", {
    fq_name: fq,
    parent_type: "project",
    display_name: inputs.name,
    network_ipam_refs: ipamRefs(inputs.ipam, inputs.subnets),
    ...(owner !== undefined ? { annotations: { key_value_pair: [{ key: OWNER_KEY, value: owner }] } } : {}),
  });
  // Test hook: the provider dies with the network in TF and not yet in the engine's state.
  crashPoint("vn.created");
  try {
    const vn = await readVn(created.uuid);
    if (!vn) throw new Error(`virtual network ${formatFqName(fq)} (${created.uuid}) vanished right after it was created`);
    return { id: created.uuid, outs: withRecordedInputs(outputsOf(vn, inputs), inputs) };
  } catch (err) {
    throw partialCreate(err, created.uuid, { ...inputs, uuid: created.uuid, fqName: formatFqName(fq), networkId: 0, subnets: [] }, inputs as unknown as Record<string, unknown>);
  }
}

/** Create found the network already there: an interrupted create of this owner made it, or it is someone else's. */
async function takeOver(existing: TfObject, owner: string, inputs: VirtualNetworkInputs): Promise<pulumi.dynamic.CreateResult> {
  const fq = existing.fq_name;
  if (annotatedOwner(existing) !== owner) throw new Error(`name: ${alreadyExists(fq, existing)}`);
  progress(`taking over virtual network ${formatFqName(fq)} (${existing.uuid}), which an interrupted create of ${owner} made`);
  let vn = existing;
  const ipamRef = ((existing.network_ipam_refs as IpamRef[] | undefined) ?? [])[0];
  if (!sameSubnets(subnetsOf(existing), inputs.subnets) || (ipamRef && formatFqName(ipamRef.to) !== inputs.ipam)) {
    await clients().tf.update("virtual-network", existing.uuid, { network_ipam_refs: ipamRefs(inputs.ipam, inputs.subnets, subnetsOf(existing)) });
    vn = (await readVn(existing.uuid)) ?? existing;
  }
  return { id: vn.uuid, outs: withRecordedInputs(outputsOf(vn, inputs), inputs) };
}

/** Create with adopt: the network with this fq_name, as it is, becomes this resource's. */
async function adopt(fq: string[], inputs: VirtualNetworkInputs): Promise<pulumi.dynamic.CreateResult> {
  const tf = clients().tf;
  const vn = await tf.readByFqName("virtual-network", fq, { excludeBackRefs: true, excludeChildren: true });
  if (!vn) throw new Error(`adopt: there is no virtual network ${formatFqName(fq)} in TF at ${settings().tfApiUrl} to adopt; create it first, or drop adopt to have Pulumi create it`);
  const mismatch = adoptionMismatch(vn, inputs.ipam, inputs.subnets);
  if (mismatch) throw new Error(`subnets: ${mismatch}`);
  progress(`adopted virtual network ${formatFqName(fq)} (${vn.uuid}); destroy ${inputs.deleteAdopted ? "deletes it" : "leaves it in place"}`);
  return { id: vn.uuid, outs: withRecordedInputs({ ...outputsOf(vn, inputs), [ADOPTED]: true }, inputs) };
}

async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const vn = await readVn(id);
  if (!vn) return { id: "" };
  const outs = { ...outputsOf(vn, props as Partial<VirtualNetworkInputs>), ...adoptedOf(props) };
  const was = inputsOf(props);
  const wanted = was.subnets as SubnetInputs[] | undefined;
  const inputs = compact({
    ...was,
    name: outs.name,
    project: outs.project,
    ipam: outs.ipam,
    subnets: wanted !== undefined && sameSubnets(outs.subnets, wanted) ? wanted : subnetInputsOf(outs.subnets, wanted ?? []),
  });
  return { id, props: withRecordedInputs(outs, inputs), inputs };
}

/**
 * Subnets as TF has them, written the way the program wrote the subnet with the same CIDR: a field
 * the program left out stays out while TF's value is its default, and takes TF's value otherwise.
 */
export function subnetInputsOf(have: SubnetOutputs[], wanted: SubnetInputs[]): SubnetInputs[] {
  return have.map((h) => {
    const w = wanted.find((x) => typeof x?.cidr === "string" && normalizeCidr(x.cidr) === h.cidr) ?? { cidr: h.cidr };
    const addrFromStart = (w.addrFromStart ?? false) === h.addrFromStart ? w.addrFromStart : h.addrFromStart || undefined;
    const gateway = (w.gateway ?? defaultGateway(w.cidr, addrFromStart)) === h.gateway ? w.gateway : h.gateway;
    const dnsServer = w.dnsServer === undefined || w.dnsServer === h.dnsServer ? w.dnsServer : h.dnsServer;
    const allocationPools = sameJson(w.allocationPools ?? [], h.allocationPools) ? w.allocationPools : h.allocationPools.length ? h.allocationPools : undefined;
    return compact({ ...w, addrFromStart, gateway, dnsServer, allocationPools });
  });
}

async function update(id: string, olds: Record<string, unknown>, news: VirtualNetworkInputs): Promise<pulumi.dynamic.UpdateResult> {
  const tf = clients().tf;
  await tf.update("virtual-network", id, { network_ipam_refs: ipamRefs(news.ipam, news.subnets, (olds.subnets as SubnetOutputs[] | undefined) ?? []) });
  const vn = await readVn(id);
  if (!vn) throw new Error(`virtual network ${id} disappeared during the update; run \`pulumi refresh\``);
  return { outs: withRecordedInputs({ ...outputsOf(vn, news), ...adoptedOf(olds) }, news) };
}

const adoptedOf = (props: Record<string, unknown>) => (props[ADOPTED] === true ? { [ADOPTED]: true } : {});

async function remove(id: string, props: Record<string, unknown>): Promise<void> {
  if (leavesInPlace(props)) {
    progress(`leaving adopted virtual network ${String(props.fqName ?? id)} in place (set deleteAdopted: true to delete it with the stack)`);
    return;
  }
  const c = clients();
  const owner = ownerOf(inputsOf(props));
  await deleteConverging({
    what: `virtual network ${String(props.fqName ?? id)} (${id})`,
    ...(owner !== undefined ? { owner } : {}),
    attempt: async () => void (await c.tf.deleteIfExists("virtual-network", id)),
    inUse: (err) => isStatus(err, 409),
    blockers: () => virtualNetworkBlockers(c, id),
  });
}

export const provider: pulumi.dynamic.ResourceProvider = withPlainErrors({ configure, check, diff, create, read, update, delete: remove });
