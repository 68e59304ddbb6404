// VirtualMachine: a Nova server on one or more networks (shared/reference/openstack.md). With TF
// as Neutron's backend a Neutron network is a TF virtual network, so VMs land on the VNs that
// VirtualNetwork creates. Create waits for ACTIVE and deletes the server again if it never gets there.
//
// Crashes: the server boots with the resource's URN in its metadata (tfmesh-owner) and
// tfmesh-state "creating", which create sets to "created" once it has the server ACTIVE. A create
// retried after a crash (of the provider or of Nova) first looks for a "creating" server of its
// owner and takes it over instead of booting a second one; such servers that do not match the
// program (another image, flavor or networks) are deleted, they were never tracked. A "created"
// server with the same owner is either the one a replacement is replacing (whose image, flavor,
// networks or host are not what the program now says: that is why it is replaced), left alone, or
// one whose create finished while the engine died before recording it: it matches the program and
// is taken over too. (A forced replacement, `pulumi up --replace`, of an unchanged VM would take
// its old server over; change what the VM is, or destroy it, to get a new one.)
//
// Drift below Nova: read asks the vRouter agent of the server's host for each port (GET /port);
// ports it does not carry (unplugged, or their interface gone) are output as unpluggedPorts, which
// diff turns into an update, and update hard-reboots the server, which plugs them again.
import type * as pulumi from "@pulumi/pulumi";
import { ConnectionError } from "../../lib/http/client.ts";
import { crashPoint } from "../../lib/crashPoint.ts";
import { isIpv4 } from "../../lib/ipv4.ts";
import { checkResourceName } from "../../lib/validate/names.ts";
import { looksLikeUuid } from "../../lib/validate/uuid.ts";
import { isGone } from "../../wire/openstack/index.ts";
import type { NovaServer, OpenStackClient } from "../../wire/openstack/index.ts";
import { ADOPTED, checkAdoption, leavesInPlace } from "./adoption.ts";
import type { AdoptionInputs } from "./adoption.ts";
import { agentClient, clients, configure, lookup, progress, quickClients } from "./context.ts";
import { withPlainErrors } from "./plainErrors.ts";
import { CREATED, CREATING, OWNER, OWNER_METADATA, STATE_METADATA, checkOwner, ownerMetadataValue, ownerOf, partialCreate } from "./identity.ts";
import { Failures, changedKeys, compact, isUnknown, inputsOf, optionalString, requiredString, sameJson, withRecordedInputs } from "./inputs.ts";
import { LOGICAL_NAME, decideName } from "./naming.ts";

export interface VmNetworkInputs {
  /** Network uuid or name. */
  network: string;
  fixedIp?: string;
}

export interface VirtualMachineInputs extends AdoptionInputs {
  [LOGICAL_NAME]?: string;
  [OWNER]?: string;
  name: string;
  image: string;
  flavor: string;
  networks: VmNetworkInputs[];
  host?: string;
  /** How long create waits for ACTIVE. */
  timeoutSeconds?: number;
}

export interface VmPortOutputs {
  portId: string;
  networkId: string;
  networkName: string;
  ip: string;
  mac: string;
}

export interface VirtualMachineOutputs extends VirtualMachineInputs {
  serverId: string;
  status: string;
  imageId: string;
  flavorId: string;
  /** Network name -> addresses, as Nova reports them. */
  addresses: Record<string, string[]>;
  ports: VmPortOutputs[];
  /** The address on the first network. */
  ip: string;
  adminPass?: string;
  /** True when create took over an existing server (adopt) instead of booting one. */
  [ADOPTED]?: boolean;
  /** Ports the vRouter agent of the server's host did not carry at the last read (absent when no agent could be asked). */
  unpluggedPorts?: string[];
}

const DEFAULT_TIMEOUT_SECONDS = 600;

function checkNetworks(f: Failures, raw: unknown): VmNetworkInputs[] | unknown {
  if (isUnknown(raw)) return raw;
  if (!Array.isArray(raw) || raw.length === 0) {
    f.add("networks", 'needs at least one network, e.g. [{ network: "red" }] or [red.uuid]');
    return raw;
  }
  return raw.map((n: unknown, i: number) => {
    const base = `networks[${i}]`;
    if (isUnknown(n)) return n;
    const entry = typeof n === "string" ? { network: n } : n;
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      f.add(base, 'must be a network uuid or name, or { network, fixedIp? }');
      return n;
    }
    const e = entry as Record<string, unknown>;
    const network = requiredString(f, `${base}.network`, e.network);
    if (network !== undefined && !isUnknown(network)) f.add(`${base}.network`, checkResourceName(network));
    const fixedIp = optionalString(f, `${base}.fixedIp`, e.fixedIp);
    if (fixedIp !== undefined && !isUnknown(fixedIp) && !isIpv4(fixedIp)) f.add(`${base}.fixedIp`, `"${fixedIp}" is not an IPv4 address`);
    return compact({ network: e.network, fixedIp: e.fixedIp });
  });
}

// Look up what the VM refers to, so a typo fails at preview instead of after a boot attempt.
// Networks given by name may be created by the same program, so only uuids are checked here.
async function checkReferences(f: Failures, openstack: OpenStackClient, image: string, flavor: string, networks: unknown): Promise<void> {
  const uuidNets = Array.isArray(networks)
    ? networks.flatMap((n: unknown, i: number) => {
        const net = (n as VmNetworkInputs | undefined)?.network;
        return typeof net === "string" && !isUnknown(net) && looksLikeUuid(net) ? [{ i, net }] : [];
      })
    : [];
  const checks: Array<Promise<void>> = [];
  const report = async (property: string, what: string, fn: () => Promise<unknown>) => {
    const r = await lookup(fn);
    if (r.status === "failed") f.add(property, `cannot look up ${what}: ${r.message}`);
    if (r.status === "ok" && !r.value) f.add(property, `${what} does not exist`);
  };
  if (!isUnknown(image)) checks.push(report("image", `image "${image}" in Glance`, () => openstack.glance.findImage(image)));
  if (!isUnknown(flavor)) checks.push(report("flavor", `flavor "${flavor}" in Nova`, () => openstack.nova.findFlavor(flavor)));
  for (const { i, net } of uuidNets) {
    checks.push(report(`networks[${i}].network`, `network ${net} in Neutron`, () => openstack.neutron.getNetwork(net)));
  }
  await Promise.all(checks);
}

async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const f = new Failures();
  const name = decideName(f, olds, news, { check: checkResourceName });
  const image = requiredString(f, "image", news.image);
  const flavor = requiredString(f, "flavor", news.flavor);
  const networks = checkNetworks(f, news.networks);
  const host = optionalString(f, "host", news.host);
  if (host !== undefined && !isUnknown(host)) f.add("host", checkResourceName(host));
  const timeout = news.timeoutSeconds;
  if (timeout !== undefined && !isUnknown(timeout) && !(typeof timeout === "number" && timeout > 0)) {
    f.add("timeoutSeconds", "must be a positive number of seconds");
  }
  const { adopt, deleteAdopted } = checkAdoption(f, news, "server");
  const owner = checkOwner(f, news);
  if (f.empty && image !== undefined && flavor !== undefined) await checkReferences(f, quickClients().openstack, image, flavor, networks);
  if (f.empty && adopt === true && olds.name === undefined && !isUnknown(name)) {
    const found = await lookup(() => quickClients().openstack.nova.serversNamed(String(name)));
    if (found.status === "failed") f.add("adopt", `cannot look up server "${String(name)}" in Nova: ${found.message}`);
    if (found.status === "ok") f.add("adopt", adoptionProblem(String(name), found.value));
  }
  const inputs = compact({ [LOGICAL_NAME]: news[LOGICAL_NAME], [OWNER]: owner, name, image, flavor, networks, host, timeoutSeconds: timeout, adopt, deleteAdopted });
  return { inputs, failures: f.list };
}

async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const replaces = changedKeys(olds, news, ["image", "flavor", "networks"]);
  // `host` is both a request and an output (where Nova placed it): only a requested host counts.
  if (news.host !== undefined && (isUnknown(news.host) || news.host !== olds.host)) replaces.push("host");
  const inPlace = changedKeys(olds, news, ["name", "timeoutSeconds", "adopt", "deleteAdopted"]);
  // At a refresh the server was still booting (a create reported partial, a reboot): update waits for it.
  if (olds.status === "BUILD" || olds.status === "HARD_REBOOT") inPlace.push("status");
  // At a refresh the vRouter no longer carried some of the server's ports: update plugs them again.
  if (Array.isArray(olds.unpluggedPorts) && olds.unpluggedPorts.length > 0) inPlace.push("unpluggedPorts");
  // A fixed address cannot be held by the old and the new server at once.
  const fixed = (v: unknown) => Array.isArray(v) && v.some((n) => (n as VmNetworkInputs)?.fixedIp !== undefined);
  return {
    changes: replaces.length + inPlace.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && (fixed(olds.networks) || fixed(news.networks)),
  };
}

async function resolveRefs(openstack: OpenStackClient, inputs: VirtualMachineInputs) {
  const [image, flavor, networks] = await Promise.all([
    openstack.glance.findImage(inputs.image),
    openstack.nova.findFlavor(inputs.flavor),
    Promise.all(inputs.networks.map((n) => openstack.neutron.findNetwork(n.network))),
  ]);
  if (!image) throw new Error(`image: no image "${inputs.image}" in Glance`);
  if (!flavor) throw new Error(`flavor: no flavor "${inputs.flavor}" in Nova`);
  const nets = networks.map((net, i) => {
    if (!net) throw new Error(`networks[${i}].network: no network "${inputs.networks[i]!.network}" in Neutron`);
    return net;
  });
  return { image, flavor, nets };
}

export async function outputsOf(openstack: OpenStackClient, server: NovaServer, base: Partial<VirtualMachineOutputs>): Promise<VirtualMachineOutputs> {
  const [ports, nets] = await Promise.all([
    openstack.neutron.listPorts({ device_id: server.id }),
    openstack.neutron.listNetworks(),
  ]);
  const netName = new Map(nets.map((n) => [n.id, n.name]));
  const portOuts: VmPortOutputs[] = ports.map((p) => ({
    portId: p.id,
    networkId: p.network_id,
    networkName: netName.get(p.network_id) ?? "",
    ip: p.fixed_ips[0]?.ip_address ?? "",
    mac: p.mac_address,
  }));
  // Keep the order of the requested networks, so ports[0] is the first network.
  const wanted = base.networks ?? [];
  const rank = (p: VmPortOutputs) => {
    const i = wanted.findIndex((w) => w.network === p.networkId || w.network === p.networkName);
    return i < 0 ? wanted.length : i;
  };
  portOuts.sort((a, b) => rank(a) - rank(b));
  const addresses = Object.fromEntries(Object.entries(server.addresses ?? {}).map(([net, addrs]) => [net, addrs.map((a) => a.addr)]));
  return compact({
    ...base,
    name: server.name,
    image: base.image ?? "",
    flavor: base.flavor ?? "",
    networks: wanted,
    serverId: server.id,
    status: server.status,
    host: server["OS-EXT-SRV-ATTR:host"] ?? base.host,
    imageId: (typeof server.image === "object" ? server.image?.id : undefined) ?? base.imageId ?? "",
    flavorId: server.flavor?.id ?? base.flavorId ?? "",
    addresses,
    ports: portOuts,
    ip: portOuts[0]?.ip ?? Object.values(addresses)[0]?.[0] ?? "",
  }) as VirtualMachineOutputs;
}

/**
 * The server's ports its host's vRouter agent does not carry now (GET /port answers 404: unplugged,
 * or its interface gone); undefined when that cannot be known (not ACTIVE, no agent for the host,
 * the agent unreachable).
 */
async function unpluggedPorts(server: NovaServer, ports: VmPortOutputs[]): Promise<string[] | undefined> {
  const host = server["OS-EXT-SRV-ATTR:host"];
  const agent = server.status === "ACTIVE" && host ? agentClient(host) : undefined;
  if (!agent) return undefined;
  try {
    const live = await Promise.all(ports.map((p) => agent.getPort(p.portId)));
    return ports.filter((_, i) => live[i] === undefined).map((p) => p.portId);
  } catch (err) {
    if (err instanceof ConnectionError) return undefined;
    throw err;
  }
}

/** The outputs with what the vRouter carries of them. */
async function withPortState(outs: VirtualMachineOutputs, server: NovaServer): Promise<VirtualMachineOutputs> {
  const { unpluggedPorts: _, ...rest } = outs;
  return compact({ ...rest, unpluggedPorts: await unpluggedPorts(server, outs.ports) }) as VirtualMachineOutputs;
}


function adoptionProblem(name: string, servers: NovaServer[]): string | undefined {
  if (servers.length === 1) return undefined;
  if (servers.length === 0) return `there is no server named "${name}" in Nova to adopt; boot it first, or drop adopt to have Pulumi boot it`;
  return `${servers.length} servers are named "${name}" (${servers.map((s) => s.id).join(", ")}); adopt needs exactly one: rename or delete the others`;
}

type Refs = Awaited<ReturnType<typeof resolveRefs>>;

/** The server's flavor as Nova shows it: by id, or from microversion 2.47 by name (original_name). */
const flavorOf = (server: NovaServer): string | undefined => server.flavor?.id ?? server.flavor?.original_name;
const isFlavor = (shown: string, refs: Refs): boolean => shown === refs.flavor.id || shown === refs.flavor.name;

/** Create with adopt: the one server with this name, as it is, becomes this resource's. */
async function adopt(openstack: OpenStackClient, inputs: VirtualMachineInputs, refs: Refs): Promise<pulumi.dynamic.CreateResult> {
  const servers = await openstack.nova.serversNamed(inputs.name);
  const problem = adoptionProblem(inputs.name, servers);
  if (problem) throw new Error(`adopt: ${problem}`);
  const found = servers[0]!;
  const server = found.status === "ACTIVE" ? found : await openstack.nova.waitForStatus(found.id, "ACTIVE", { timeoutMs: (inputs.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000 });
  const outs = await outputsOf(openstack, server, { ...inputs, imageId: refs.image.id, flavorId: refs.flavor.id });
  const imageId = typeof server.image === "object" ? server.image?.id : undefined;
  if (imageId && imageId !== refs.image.id) throw new Error(`image: to adopt server "${inputs.name}" (${server.id}), declare its image as it is: ${imageId} (the program says "${inputs.image}", ${refs.image.id})`);
  const flavor = flavorOf(server);
  if (flavor !== undefined && !isFlavor(flavor, refs)) throw new Error(`flavor: to adopt server "${inputs.name}" (${server.id}), declare its flavor as it is: ${flavor} (the program says "${inputs.flavor}")`);
  const have = outs.ports.map((p) => p.networkId);
  const want = refs.nets.map((n) => n.id);
  if (!sameJson([...have].sort(), [...want].sort())) {
    throw new Error(`networks: to adopt server "${inputs.name}" (${server.id}), declare its networks as they are: ${JSON.stringify(outs.ports.map((p) => p.networkName || p.networkId))} (the program says ${JSON.stringify(inputs.networks.map((n) => n.network))})`);
  }
  progress(`adopted server ${inputs.name} (${server.id}); destroy ${inputs.deleteAdopted ? "deletes it" : "leaves it running"}`);
  return { id: server.id, outs: withRecordedInputs({ ...(await withPortState(outs, server)), [ADOPTED]: true }, inputs) };
}


/** What differs between a server and the program (image, flavor, networks in order, a requested host), or undefined. */
async function specMismatch(openstack: OpenStackClient, server: NovaServer, inputs: VirtualMachineInputs, refs: Refs): Promise<string | undefined> {
  const imageId = typeof server.image === "object" ? server.image?.id : undefined;
  if (imageId && imageId !== refs.image.id) return `image ${imageId}, the program says ${refs.image.id}`;
  const flavor = flavorOf(server);
  if (flavor !== undefined && !isFlavor(flavor, refs)) return `flavor ${flavor}, the program says ${refs.flavor.name}`;
  if (inputs.host && server["OS-EXT-SRV-ATTR:host"] && server["OS-EXT-SRV-ATTR:host"] !== inputs.host) return `host ${server["OS-EXT-SRV-ATTR:host"]}, the program says ${inputs.host}`;
  const ports = await openstack.neutron.listPorts({ device_id: server.id });
  const have = [...ports.map((p) => p.network_id)].sort();
  const want = [...refs.nets.map((n) => n.id)].sort();
  if (!sameJson(have, want)) return `networks ${JSON.stringify(have)}, the program says ${JSON.stringify(want)}`;
  return undefined;
}

/**
 * Servers an interrupted create of this owner booted (state "creating"): the one that matches the
 * program is taken over, the others deleted. Without one, a finished ("created") server of this
 * owner that matches the program is what a create the engine never recorded made, and is taken
 * over; the other finished ones are what a replacement replaces. Answers the server to take over.
 */
async function leftByInterruptedCreate(openstack: OpenStackClient, inputs: VirtualMachineInputs, owner: string, refs: Refs): Promise<NovaServer | undefined> {
  const tag = ownerMetadataValue(owner);
  const ours = (await openstack.nova.listServers()).filter((s) => s.metadata?.[OWNER_METADATA] === tag && !isGone(s));
  const unfinished = await unfinishedMatching(openstack, ours.filter((s) => s.metadata?.[STATE_METADATA] === CREATING), inputs, owner, refs);
  if (unfinished) return unfinished;
  for (const s of ours.filter((x) => x.metadata?.[STATE_METADATA] === CREATED && x.status !== "ERROR")) {
    if ((await specMismatch(openstack, s, inputs, refs)) === undefined) return s;
  }
  return undefined;
}

/** The unfinished server that matches the program; the others are deleted, no resource tracks them. */
async function unfinishedMatching(openstack: OpenStackClient, mine: NovaServer[], inputs: VirtualMachineInputs, owner: string, refs: Refs): Promise<NovaServer | undefined> {
  let chosen: NovaServer | undefined;
  for (const s of mine) {
    const mismatch = s.status === "ERROR" ? `it is in ERROR${s.fault?.message ? ` (${s.fault.message})` : ""}` : await specMismatch(openstack, s, inputs, refs);
    if (!mismatch && !chosen) {
      chosen = s;
      continue;
    }
    progress(`deleting server ${s.name} (${s.id}), left by an interrupted create of ${owner}: ${mismatch ?? "a second such server"}`);
    await openstack.nova.deleteServer(s.id);
    await openstack.nova.waitForDeleted(s.id, { timeoutMs: 120_000 });
  }
  return chosen;
}

/** Waits for ACTIVE with progress lines; on failure deletes the server again (or reports it to the engine when that fails too). */
async function untilActive(openstack: OpenStackClient, id: string, inputs: VirtualMachineInputs): Promise<NovaServer> {
  let lastStatus = "";
  try {
    return await openstack.nova.waitForStatus(id, "ACTIVE", {
      timeoutMs: (inputs.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
      onProgress: (s) => {
        const line = `${s.status}${s.progress ? ` ${s.progress}%` : ""}`;
        if (line !== lastStatus) progress(`server ${inputs.name} (${id}): ${line}`);
        lastStatus = line;
      },
    });
  } catch (err) {
    // Roll back, so a failed create leaves no half-booted server behind.
    try {
      await openstack.nova.deleteServer(id);
      await openstack.nova.waitForDeleted(id, { timeoutMs: 120_000 });
    } catch (cleanupErr) {
      // The server stays: the engine tracks it (and destroy deletes it) instead of losing it.
      throw partialCreate(`${(err as Error).message}; deleting the server ${id} also failed: ${(cleanupErr as Error).message}`, id, partialOutputs(id, inputs), inputs as unknown as Record<string, unknown>);
    }
    throw new Error(`${(err as Error).message} (the server was deleted again)`);
  }
}

/** The outputs of a server whose create did not finish: enough for refresh, update and delete to find it. */
function partialOutputs(id: string, inputs: VirtualMachineInputs): Partial<VirtualMachineOutputs> {
  return compact({ ...inputs, serverId: id, status: "BUILD", ports: [], addresses: {}, ip: "", imageId: "", flavorId: "" });
}

/** Marks the server's create as finished, so a later create of the same owner (a replacement) leaves it alone. */
async function markCreated(openstack: OpenStackClient, server: NovaServer): Promise<void> {
  if (server.metadata?.[OWNER_METADATA] !== undefined && server.metadata?.[STATE_METADATA] !== CREATED) {
    await openstack.nova.setServerMetadataItem(server.id, STATE_METADATA, CREATED);
  }
}

async function create(inputs: VirtualMachineInputs): Promise<pulumi.dynamic.CreateResult> {
  const { openstack } = clients();
  const refs = await resolveRefs(openstack, inputs);
  if (inputs.adopt) return adopt(openstack, inputs, refs);
  const { image, flavor, nets } = refs;
  const owner = ownerOf(inputs as unknown as Record<string, unknown>);
  const found = owner !== undefined ? await leftByInterruptedCreate(openstack, inputs, owner, refs) : undefined;
  let id: string;
  let adminPass: string | undefined;
  if (found) {
    progress(`taking over server ${found.name} (${found.id}), which an interrupted create of ${owner} booted${found.metadata?.[STATE_METADATA] === CREATED ? " and the engine never recorded" : ""}`);
    id = found.id;
    if (found.name !== inputs.name) await openstack.nova.renameServer(id, inputs.name);
  } else {
    const created = await openstack.nova.createServer({
      name: inputs.name,
      imageRef: image.id,
      flavorRef: flavor.id,
      networks: nets.map((net, i) => compact({ uuid: net.id, fixed_ip: inputs.networks[i]!.fixedIp })),
      ...(inputs.host ? { host: inputs.host } : {}),
      ...(owner !== undefined ? { metadata: { [OWNER_METADATA]: ownerMetadataValue(owner), [STATE_METADATA]: CREATING } } : {}),
    });
    // Test hook: the provider dies with the server accepted by Nova and not yet in the engine's state.
    crashPoint("vm.server-accepted");
    id = created.id;
    adminPass = created.adminPass;
  }
  const server = await untilActive(openstack, id, inputs);
  try {
    await markCreated(openstack, server);
    const outs = await withPortState(await outputsOf(openstack, server, { ...inputs, imageId: image.id, flavorId: flavor.id, adminPass }), server);
    return { id, outs: withRecordedInputs(outs, inputs) };
  } catch (err) {
    throw partialCreate(err, id, { ...partialOutputs(id, inputs), status: server.status }, inputs as unknown as Record<string, unknown>);
  }
}


async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const { openstack } = clients();
  const server = await openstack.nova.getServer(id);
  if (!server || isGone(server)) return { id: "" };
  // The engine reads it by its id, so a resource tracks it: a create reported partial (the server
  // still "creating") is no longer one a retried create may take over.
  await markCreated(openstack, server);
  const old = props as Partial<VirtualMachineOutputs>;
  const outs = await withPortState(await outputsOf(openstack, server, old), server);
  const inputs = refreshedInputs(inputsOf(props), old, outs);
  return { id, props: withRecordedInputs(outs, inputs), inputs };
}

/**
 * The inputs as the program wrote them, with a value replaced only where the server drifted: its
 * name (renamed in Nova), its image or flavor (rebuilt or resized), its networks (ports attached
 * or detached, or a fixed address lost) and, when the program asked for one, its host.
 */
function refreshedInputs(was: Record<string, unknown>, old: Partial<VirtualMachineOutputs>, live: VirtualMachineOutputs): Record<string, unknown> {
  const sameId = (before: string | undefined, now: string) => before === undefined || before === "" || before === now;
  const networks = was.networks as VmNetworkInputs[] | undefined;
  return compact({
    ...was,
    name: live.name,
    image: sameId(old.imageId, live.imageId) ? was.image : live.imageId,
    flavor: sameId(old.flavorId, live.flavorId) ? was.flavor : live.flavorId,
    networks: sameNetworks(networks, old.ports, live.ports) ? was.networks : live.ports.map((p) => ({ network: p.networkId })),
    host: was.host === undefined ? undefined : live.host,
  });
}

function sameNetworks(wanted: VmNetworkInputs[] | undefined, before: VmPortOutputs[] | undefined, now: VmPortOutputs[]): boolean {
  const ids = (ports: VmPortOutputs[]) => ports.map((p) => p.networkId);
  if (before !== undefined && !sameJson(ids(before), ids(now))) return false;
  return (wanted ?? []).every((w, i) => w.fixedIp === undefined || now[i]?.ip === w.fixedIp);
}

async function update(id: string, olds: Record<string, unknown>, news: VirtualMachineInputs): Promise<pulumi.dynamic.UpdateResult> {
  const { openstack } = clients();
  if (olds.name !== news.name) await openstack.nova.renameServer(id, news.name);
  let server = await openstack.nova.getServer(id);
  if (!server) throw new Error(`server ${id} disappeared during the update; run \`pulumi refresh\``);
  // A create that was reported partial (the engine's next up updates it), or a reboot: wait for it.
  if (server.status === "BUILD" || server.status === "HARD_REBOOT") server = await openstack.nova.waitForStatus(id, "ACTIVE", { timeoutMs: (news.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000 });
  await markCreated(openstack, server);
  const base = await outputsOf(openstack, server, { ...(olds as Partial<VirtualMachineOutputs>), ...news });
  const unplugged = await unpluggedPorts(server, base.ports);
  if (unplugged !== undefined && unplugged.length > 0) {
    progress(`server ${server.name} (${id}): the vRouter of ${server["OS-EXT-SRV-ATTR:host"]} does not carry port(s) ${unplugged.join(", ")}; hard-rebooting it, which plugs them again`);
    await openstack.nova.rebootServer(id, "HARD");
    server = await openstack.nova.waitForStatus(id, "ACTIVE", { timeoutMs: (news.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000 });
  }
  return { outs: withRecordedInputs(await withPortState(await outputsOf(openstack, server, { ...(olds as Partial<VirtualMachineOutputs>), ...news }), server), news) };
}

async function remove(id: string, props: Record<string, unknown>): Promise<void> {
  if (leavesInPlace(props)) {
    progress(`leaving adopted server ${String(props.name ?? id)} (${id}) in place (set deleteAdopted: true to delete it with the stack)`);
    return;
  }
  const { openstack } = clients();
  await openstack.nova.deleteServer(id);
  await openstack.nova.waitForDeleted(id);
}

export const provider: pulumi.dynamic.ResourceProvider = withPlainErrors({ configure, check, diff, create, read, update, delete: remove });
