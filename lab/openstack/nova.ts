// Nova v2.1 for the lab. Booting a server creates its TF objects (virtual-machine with the server's
// uuid, ports = VMI + instance-ip via NeutronModel, the virtual-router -> virtual-machine ref of the
// chosen node) in one transaction, answers 202, then boots it through the data plane's VmRuntime:
// BUILD -> ACTIVE, or ERROR with a fault. Delete undoes all of it before answering 204.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type http from "node:http";
import { isIPv6 } from "node:net";
import type { DatabaseSync } from "node:sqlite";
import { isIpv4 } from "../../lib/ipv4.ts";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import { ApiError, createJsonServer, objectBody } from "../../lib/http/server.ts";
import type { ApiRequest, ApiResponse, Route } from "../../lib/http/server.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import type { ConfigStore, TfObject } from "../tf/configStore.ts";
import { FLAVORS, findFlavor, findImage, refId } from "./catalogData.ts";
import type { Flavor } from "./catalogData.ts";
import { hostUrl, isoSeconds, novaError, requireToken } from "./common.ts";
import type { TokenValidator } from "./common.ts";
import { MAX_VERSION, MIN_VERSION, atLeast, requestedVersion, versionHeaders } from "./microversion.ts";
import type { Microversion } from "./microversion.ts";
import type { NeutronModel } from "./neutronModel.ts";
import { ServerTable } from "./servers.ts";
import type { ServerPort, ServerRecord } from "./servers.ts";
import type { VmPort, VmRuntime } from "../dataplane/types.ts";

export interface NovaOptions {
  db: DatabaseSync;
  store: ConfigStore;
  neutron: NeutronModel;
  computeNodes: string[];
  vmRuntime: VmRuntime;
  auth: TokenValidator | null;
  projectId: string;
  userId: string;
  log?: (msg: string) => void;
  /** A boot that takes longer puts the server in ERROR (so a stuck boot never wedges its delete). */
  bootTimeoutMs?: number;
}

type Json = Record<string, unknown>;
type NetworkRequest = { uuid?: string; port?: string; fixed_ip?: string };

const refsOf = (o: TfObject, field: string) => ((o[field] as Array<{ uuid: string; to: string[]; attr?: unknown }> | undefined) ?? []);
const bad = (msg: string) => new ApiError(400, msg);

/** What Nova's update answer leaves out before 2.75 (it shows server_groups from 2.71). */
const NOT_IN_UPDATE_ANSWER = /^(OS-EXT-AZ:|OS-EXT-SRV-ATTR:|OS-SRV-USG:|OS-EXT-STS:|os-extended-volumes:|config_drive$|key_name$|security_groups$|host_status$)/;

/** Attributes PUT /servers/{id} may carry ("description" too from 2.19). */
const EDITABLE = ["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"];

type Editable = Partial<Pick<ServerRecord, "name" | "accessIPv4" | "accessIPv6" | "description">>;

/** Nova's "name" format: 1..255 printable characters, no whitespace at either end. */
function checkName(name: unknown): string {
  const shown = JSON.stringify(name ?? null);
  if (typeof name !== "string" || name.length < 1 || name.length > 255) {
    throw bad(`Invalid input for field/attribute name. Value: ${shown}. 'name' must be a string of 1 to 255 characters.`);
  }
  if (name.trim() !== name || /[\u0000-\u001f\u007f]/.test(name)) {
    throw bad(`Invalid input for field/attribute name. Value: ${shown}. An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.`);
  }
  return name;
}

/** accessIPv4/accessIPv6 (an address, or null/"" to clear) and, from 2.19, description (null clears). */
function editableAttributes(body: Json, v: Microversion): Editable {
  const out: Editable = {};
  const accessIp = (key: "accessIPv4" | "accessIPv6", valid: (s: string) => boolean) => {
    const value = body[key];
    if (value === undefined) return;
    if (value === null || value === "") {
      out[key] = null;
      return;
    }
    if (typeof value !== "string" || !valid(value.trim())) {
      throw bad(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(value)}. ${JSON.stringify(value)} is not a '${key === "accessIPv4" ? "ipv4" : "ipv6"}'`);
    }
    out[key] = value.trim();
  };
  accessIp("accessIPv4", isIpv4);
  accessIp("accessIPv6", isIPv6);
  const disk = body["OS-DCF:diskConfig"];
  if (disk !== undefined && disk !== "AUTO" && disk !== "MANUAL") {
    throw bad(`Invalid input for field/attribute OS-DCF:diskConfig. Value: ${JSON.stringify(disk)}. ${JSON.stringify(disk)} is not one of ['AUTO', 'MANUAL']`);
  }
  if (body.description !== undefined && atLeast(v, 19)) {
    const d = body.description;
    if (d !== null && (typeof d !== "string" || d.length > 255 || /[\u0000-\u001f\u007f]/.test(d))) {
      throw bad(`Invalid input for field/attribute description. Value: ${JSON.stringify(d)}. The description must be null or at most 255 printable characters.`);
    }
    out.description = d;
  }
  return out;
}

export class Nova {
  private readonly o: NovaOptions;
  private readonly servers: ServerTable;
  /** One chain of work per server, so a delete waits for a boot in progress. */
  private readonly queues = new KeyedQueue();

  constructor(opts: NovaOptions) {
    this.o = opts;
    this.servers = new ServerTable(opts.db);
  }

  isServer = (id: string): boolean => this.servers.get(id) !== undefined;

  /** After a restart: boot again what was still building (bootVm is idempotent). */
  resume(): void {
    for (const s of this.servers.all()) if (s.status === "BUILD") this.queues.run(s.id, () => this.boot(s.id));
  }

  /** Waits until every queued boot/delete has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.queues.idle();
  }

  // ---- boot ------------------------------------------------------------------------------------

  /** The least loaded compute node, or the one an admin pinned with availability_zone "nova:<host>". */
  private schedule(az: unknown): string {
    const nodes = this.o.computeNodes;
    if (!nodes.length) throw new ApiError(500, "No valid host was found. The lab has no compute nodes.");
    if (az !== undefined && az !== null) {
      if (typeof az !== "string") throw bad("Invalid input for field/attribute availability_zone.");
      const [zone, host] = az.split(":", 2);
      if (zone !== "nova" && zone !== "") throw bad(`The requested availability zone is not available: ${az}`);
      if (host) {
        if (!nodes.includes(host)) throw bad(`No valid host was found. '${host}' is not a compute node of the lab (${nodes.join(", ")}).`);
        return host;
      }
    }
    const load = new Map(nodes.map((n) => [n, 0]));
    for (const s of this.servers.all()) if (load.has(s.host)) load.set(s.host, load.get(s.host)! + 1);
    return [...load.entries()].sort((a, b) => a[1] - b[1])[0]![0];
  }

  private networkRequests(body: Json, v: Microversion): NetworkRequest[] {
    const nets = body.networks;
    if (nets === undefined) {
      if (atLeast(v, 37)) throw bad("Invalid input for field/attribute server. 'networks' is a required property (microversion 2.37 and later).");
      return this.autoNetwork();
    }
    if (nets === "auto" || nets === "none") {
      if (!atLeast(v, 37)) throw bad(`Invalid input for field/attribute networks. Value: ${nets}. "${nets}" needs microversion 2.37 or later.`);
      return nets === "none" ? [] : this.autoNetwork();
    }
    if (!Array.isArray(nets)) throw bad(`Invalid input for field/attribute networks. Value: ${JSON.stringify(nets)}. Must be a list, "auto" or "none".`);
    return nets.map((n, i) => {
      if (!n || typeof n !== "object") throw bad(`Invalid input for field/attribute networks[${i}]: must be an object.`);
      const r = n as Json;
      if (r.port !== undefined) {
        if (typeof r.port !== "string" || !isUuid(r.port)) throw bad(`Invalid input for field/attribute port. Value: ${String(r.port)}.`);
        if (r.fixed_ip !== undefined) throw bad("Invalid input: fixed_ip cannot be combined with port.");
        return { port: r.port };
      }
      if (typeof r.uuid !== "string" || !isUuid(r.uuid)) throw bad(`Bad networks format: network uuid is not in proper format (${String(r.uuid)})`);
      if (r.fixed_ip !== undefined && (typeof r.fixed_ip !== "string" || !isIpv4(r.fixed_ip))) throw bad(`Invalid fixed IP address (${String(r.fixed_ip)})`);
      return r.fixed_ip !== undefined ? { uuid: r.uuid, fixed_ip: r.fixed_ip as string } : { uuid: r.uuid };
    });
  }

  /** "auto" (and no networks before 2.37): the project's only network. */
  private autoNetwork(): NetworkRequest[] {
    const nets = this.o.neutron.listNetworkObjects().filter((n) => n.router_external !== true && n.fq_name[1] === "admin");
    if (nets.length === 0) throw bad("Unable to automatically allocate a network for project: the admin project has no network.");
    if (nets.length > 1) throw new ApiError(409, "Multiple possible networks found, use a Network ID to be more specific.");
    return [{ uuid: nets[0]!.uuid }];
  }

  private create(req: ApiRequest, v: Microversion): ApiResponse {
    const body = objectBody(req, "server");
    const name = checkName(body.name);
    if (typeof body.flavorRef !== "string" && typeof body.flavorRef !== "number") throw bad("Invalid input for field/attribute flavorRef. 'flavorRef' is a required property.");
    const flavor = findFlavor(refId(String(body.flavorRef)));
    if (!flavor) throw bad("Invalid flavorRef provided.");
    if (typeof body.imageRef !== "string") throw bad("Invalid input for field/attribute imageRef. 'imageRef' is a required property (the lab boots images only).");
    const image = findImage(refId(body.imageRef));
    if (!image) throw bad("Can not find requested image");
    for (const k of ["min_count", "max_count"]) {
      if (body[k] !== undefined && Number(body[k]) !== 1) throw bad(`Invalid input for field/attribute ${k}: the lab creates one server per request.`);
    }
    const metadata = (body.metadata ?? {}) as Record<string, string>;
    if (typeof metadata !== "object" || Array.isArray(metadata) || Object.values(metadata).some((x) => typeof x !== "string")) {
      throw bad("Invalid input for field/attribute metadata. Must be an object of string values.");
    }
    const editable = editableAttributes(body, v);
    const requests = this.networkRequests(body, v);
    const host = this.schedule(body.availability_zone);
    const id = randomUUID();
    const { store, neutron } = this.o;

    store.transaction(() => {
      for (const r of requests) {
        if (r.uuid && !store.find("virtual-network", r.uuid)) throw bad(`Network ${r.uuid} could not be found.`);
        if (r.port) {
          const p = store.find("virtual-machine-interface", r.port);
          if (!p) throw bad(`Port id ${r.port} could not be found.`);
          if (refsOf(p, "virtual_machine_refs").length) throw new ApiError(409, `Port ${r.port} is still in use.`);
        }
      }
      store.create("virtual-machine", { uuid: id, fq_name: [id], display_name: name, server_type: "virtual-server" });
      const out: ServerPort[] = [];
      for (const r of requests) {
        const binding = { deviceId: id, deviceOwner: "compute:nova", hostId: host };
        if (r.port) {
          neutron.bind(r.port, binding);
          out.push({ portId: r.port, ownedByNova: false });
          continue;
        }
        const port = this.asNova(() =>
          neutron.createPort({
            network_id: r.uuid,
            ...(r.fixed_ip ? { fixed_ips: [{ ip_address: r.fixed_ip }] } : {}),
            device_id: id,
            device_owner: "compute:nova",
            "binding:host_id": host,
          }),
        );
        out.push({ portId: port.uuid, ownedByNova: true });
      }
      store.refUpdate({ operation: "ADD", type: "virtual-router", uuid: this.vrouterOf(host), "ref-type": "virtual-machine", "ref-uuid": id });
      const t = isoSeconds();
      this.servers.insert({
        id, name, host, status: "BUILD", flavorId: flavor.id, imageId: image.id, metadata, ports: out,
        created: t, updated: t, launchedAt: null, fault: null, instanceNumber: this.servers.nextInstanceNumber(),
        keyName: typeof body.key_name === "string" ? body.key_name : null,
        ...editable,
      });
    });
    void this.queues.run(id, () => this.boot(id));
    const base = hostUrl(req);
    return {
      status: 202,
      headers: { location: `${base}/v2.1/servers/${id}` },
      body: {
        server: {
          id,
          links: this.links(base, id),
          adminPass: randomBytes(9).toString("base64url"),
          "OS-DCF:diskConfig": "MANUAL",
          security_groups: [{ name: "default" }],
        },
      },
    };
  }

  /**
   * PUT /servers/{id}: what Nova changes in place (name, accessIPv4/6, description from 2.19),
   * validated before the server is looked up, as Nova's schema check runs first. The TF
   * virtual-machine keeps the server's name as its display_name, as at boot.
   */
  private update(req: ApiRequest, v: Microversion): ApiResponse {
    const body = objectBody(req, "server");
    const allowed = new Set([...EDITABLE, ...(atLeast(v, 19) ? ["description"] : [])]);
    const unexpected = Object.keys(body).filter((k) => !allowed.has(k));
    if (unexpected.length) {
      const names = unexpected.map((k) => `'${k}'`).join(", ");
      throw bad(`Invalid input for field/attribute server. Value: ${JSON.stringify(body)}. Additional properties are not allowed (${names} ${unexpected.length === 1 ? "was" : "were"} unexpected)`);
    }
    const changes = editableAttributes(body, v);
    if (body.name !== undefined) changes.name = checkName(body.name);
    const id = req.params.id!;
    const s = this.mustGet(id);
    const next: ServerRecord = { ...s, ...changes, updated: isoSeconds() };
    const { store } = this.o;
    store.transaction(() => {
      if (changes.name !== undefined && changes.name !== s.name && store.find("virtual-machine", id)) {
        store.update("virtual-machine", id, { display_name: changes.name });
      }
      this.servers.save(next);
    });
    // Before 2.75 the answer leaves out the extended attributes GET shows.
    return { status: 200, body: { server: this.serverView(hostUrl(req), next, v, { extended: atLeast(v, 75) }) } };
  }

  private vrouterOf(host: string): string {
    return this.o.store.fqNameToId("virtual-router", ["default-global-system-config", host]);
  }

  /** Neutron-shaped errors from port creation, in Nova's words. */
  private asNova<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ApiError && e.details === "IpAddressInUse") throw new ApiError(409, `Fixed IP address is already in use: ${e.message}`);
      if (e instanceof ApiError && e.details === "IpAddressGenerationFailure") throw new ApiError(409, `No more available IP addresses: ${e.message}`);
      throw e;
    }
  }

  /** What the data plane needs to plug each port: VN, network id, MAC, address, prefix, gateway. */
  private vmPorts(s: ServerRecord): VmPort[] {
    const { store, neutron } = this.o;
    const out: VmPort[] = [];
    for (const p of s.ports) {
      const vmi = store.find("virtual-machine-interface", p.portId);
      if (!vmi) continue;
      const vnUuid = refsOf(vmi, "virtual_network_refs")[0]?.uuid;
      const vn = vnUuid ? store.find("virtual-network", vnUuid, { excludeBackRefs: true, excludeChildren: true }) : undefined;
      const fixed = neutron.fixedIps(vmi)[0];
      if (!vn || !fixed) continue;
      const subnet = neutron.listSubnets().find((x) => x.subnet.subnet_uuid === fixed.subnet_id)?.subnet;
      out.push({
        vmiUuid: vmi.uuid,
        vnUuid: vn.uuid,
        networkId: Number(vn.virtual_network_network_id),
        mac: (vmi.virtual_machine_interface_mac_addresses as { mac_address: string[] }).mac_address[0]!,
        ip: fixed.ip_address,
        prefixLength: subnet?.subnet?.ip_prefix_len ?? 32,
        gateway: subnet?.default_gateway && subnet.default_gateway !== "0.0.0.0" ? subnet.default_gateway : "",
      });
    }
    return out;
  }

  private async boot(id: string): Promise<void> {
    const s = this.servers.get(id);
    if (!s || s.status !== "BUILD") return;
    try {
      const limit = this.o.bootTimeoutMs ?? 120_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the VM did not boot within ${limit / 1000} s`)), limit);
        timer.unref();
      });
      try {
        await Promise.race([this.o.vmRuntime.bootVm({ serverId: id, name: s.name, node: s.host, ports: this.vmPorts(s) }), timeout]);
      } finally {
        clearTimeout(timer);
      }
      const now = this.servers.get(id);
      if (!now) return;
      // Nova writes launched_at without a zone and with microseconds (gophercloud parses it that way).
      this.servers.save({ ...now, status: "ACTIVE", updated: isoSeconds(), launchedAt: new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000") });
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      this.o.log?.(`nova: boot of ${id} failed: ${message}`);
      try {
        const now = this.servers.get(id);
        if (now) this.servers.save({ ...now, status: "ERROR", updated: isoSeconds(), fault: { code: 500, message, created: isoSeconds() } });
      } catch (saveErr) {
        this.o.log?.(`nova: could not record the failed boot of ${id}: ${(saveErr as Error).message}`);
      }
    }
  }

  // ---- delete ----------------------------------------------------------------------------------

  private async destroy(id: string): Promise<void> {
    const s = this.servers.get(id);
    if (!s) return;
    try {
      await this.o.vmRuntime.deleteVm(id);
    } catch (err) {
      const message = `deleting the VM failed: ${(err as Error)?.message ?? String(err)}`;
      this.servers.save({ ...s, status: "ERROR", updated: isoSeconds(), fault: { code: 500, message, created: isoSeconds() } });
      throw new ApiError(500, message);
    }
    const { store, neutron } = this.o;
    store.transaction(() => {
      const vm = store.find("virtual-machine", id);
      for (const vr of vm ? refsOf(vm, "virtual_router_back_refs") : []) {
        store.refUpdate({ operation: "DELETE", type: "virtual-router", uuid: vr.uuid, "ref-type": "virtual-machine", "ref-uuid": id });
      }
      for (const p of s.ports) {
        if (!store.find("virtual-machine-interface", p.portId)) continue;
        if (p.ownedByNova) neutron.deletePort(p.portId);
        else neutron.bind(p.portId, { deviceId: "", deviceOwner: "", hostId: "" });
      }
      // Ports bound to the server through Neutron after boot are unbound, not deleted.
      const again = store.find("virtual-machine", id);
      for (const vmi of again ? refsOf(again, "virtual_machine_interface_back_refs") : []) neutron.bind(vmi.uuid, { deviceId: "", deviceOwner: "", hostId: "" });
      if (store.find("virtual-machine", id)) store.delete("virtual-machine", id);
      this.servers.delete(id);
    });
  }

  // ---- views -----------------------------------------------------------------------------------

  private links(base: string, id: string, what = "servers") {
    return [
      { rel: "self", href: `${base}/v2.1/${what}/${id}` },
      { rel: "bookmark", href: `${base}/${what}/${id}` },
    ];
  }

  private flavorView(base: string, f: Flavor, v: Microversion, detail: boolean): Json {
    const out: Json = { id: f.id, name: f.name, links: this.links(base, f.id, "flavors") };
    if (!detail) return out;
    Object.assign(out, {
      vcpus: f.vcpus, ram: f.ram, disk: f.disk, swap: atLeast(v, 75) ? 0 : "", rxtx_factor: 1.0,
      "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": false, "os-flavor-access:is_public": true,
    });
    if (atLeast(v, 55)) out.description = null;
    if (atLeast(v, 61)) out.extra_specs = {};
    return out;
  }

  private addresses(s: ServerRecord, extended = true): Record<string, Json[]> {
    const { store, neutron } = this.o;
    const out: Record<string, Json[]> = {};
    for (const p of s.ports) {
      const vmi = store.find("virtual-machine-interface", p.portId);
      if (!vmi) continue;
      const vnUuid = refsOf(vmi, "virtual_network_refs")[0]?.uuid;
      const vn = vnUuid ? store.find("virtual-network", vnUuid, { excludeBackRefs: true, excludeChildren: true }) : undefined;
      const netName = String(vn?.display_name ?? vn?.name ?? vnUuid);
      const mac = (vmi.virtual_machine_interface_mac_addresses as { mac_address: string[] }).mac_address[0];
      for (const f of neutron.fixedIps(vmi)) {
        (out[netName] ??= []).push(extended ? { addr: f.ip_address, version: 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac } : { addr: f.ip_address, version: 4 });
      }
    }
    return out;
  }

  /** The server as GET shows it; `extended: false` leaves out what Nova's update answer omits before 2.75. */
  private serverView(base: string, s: ServerRecord, v: Microversion, opts: { extended?: boolean } = {}): Json {
    const extended = opts.extended ?? true;
    const flavor = findFlavor(s.flavorId) ?? FLAVORS[0]!;
    const state = { BUILD: ["building", "spawning", 0], ACTIVE: ["active", null, 1], ERROR: ["error", null, 0] }[s.status];
    const out: Json = {
      id: s.id,
      name: s.name,
      status: s.status,
      tenant_id: this.o.projectId,
      user_id: this.o.userId,
      metadata: s.metadata,
      hostId: createHash("sha224").update(this.o.projectId + s.host).digest("hex"),
      image: { id: s.imageId, links: [{ rel: "bookmark", href: `${base}/images/${s.imageId}` }] },
      flavor: atLeast(v, 47)
        ? { vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk, ephemeral: 0, swap: 0, original_name: flavor.name, extra_specs: {} }
        : { id: flavor.id, links: [{ rel: "bookmark", href: `${base}/flavors/${flavor.id}` }] },
      created: s.created,
      updated: s.updated,
      addresses: this.addresses(s, extended),
      accessIPv4: s.accessIPv4 ?? "",
      accessIPv6: s.accessIPv6 ?? "",
      links: this.links(base, s.id),
      "OS-DCF:diskConfig": "MANUAL",
      progress: 0,
      "OS-EXT-AZ:availability_zone": "nova",
      config_drive: "",
      key_name: s.keyName,
      "OS-SRV-USG:launched_at": s.launchedAt,
      "OS-SRV-USG:terminated_at": null,
      "OS-EXT-SRV-ATTR:host": s.host,
      "OS-EXT-SRV-ATTR:instance_name": `instance-${s.instanceNumber.toString(16).padStart(8, "0")}`,
      "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
      "OS-EXT-STS:task_state": state[1],
      "OS-EXT-STS:vm_state": state[0],
      "OS-EXT-STS:power_state": state[2],
      "os-extended-volumes:volumes_attached": [],
      security_groups: [{ name: "default" }],
    };
    if (s.fault && s.status === "ERROR") out.fault = s.fault;
    if (atLeast(v, 9)) out.locked = false;
    if (atLeast(v, 16)) out.host_status = "UP";
    if (atLeast(v, 19)) out.description = s.description ?? null;
    if (atLeast(v, 26)) out.tags = [];
    if (atLeast(v, 63)) out.trusted_image_certificates = null;
    if (atLeast(v, 71)) out.server_groups = [];
    if (atLeast(v, 73)) out.locked_reason = null;
    if (!extended) {
      for (const k of Object.keys(out)) if (NOT_IN_UPDATE_ANSWER.test(k)) delete out[k];
    }
    return out;
  }

  private mustGet(id: string): ServerRecord {
    const s = this.servers.get(id);
    if (!s) throw new ApiError(404, `Instance ${id} could not be found.`);
    return s;
  }

  private filtered(q: URLSearchParams): ServerRecord[] {
    let list = this.servers.all();
    const name = q.get("name");
    if (name) {
      let re: RegExp;
      try {
        re = new RegExp(name);
      } catch {
        re = new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      }
      list = list.filter((s) => re.test(s.name));
    }
    const status = q.get("status");
    if (status) list = list.filter((s) => s.status === status.toUpperCase());
    const host = q.get("host") ?? q.get("node");
    if (host) list = list.filter((s) => s.host === host);
    return list;
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  createServer(): http.Server {
    const versionDoc = (base: string) => ({
      id: "v2.1",
      status: "CURRENT",
      version: MAX_VERSION,
      min_version: MIN_VERSION,
      updated: "2013-07-23T11:33:21Z",
      links: [{ rel: "self", href: `${base}/v2.1/` }, { rel: "describedby", type: "text/html", href: "http://docs.openstack.org/" }],
      "media-types": [{ base: "application/json", type: "application/vnd.openstack.compute+json;version=2.1" }],
    });
    const withVersion = (fn: (req: ApiRequest, v: Microversion) => ApiResponse | Promise<ApiResponse>) => async (req: ApiRequest): Promise<ApiResponse> => {
      const v = requestedVersion(req);
      const res = await fn(req, v);
      return { ...res, headers: { ...res.headers, ...versionHeaders(v) } };
    };
    const routes: Route[] = [
      { method: "GET", pattern: "/", handler: (req) => ({ body: { versions: [versionDoc(hostUrl(req))] } }) },
      { method: "GET", pattern: "/v2.1", handler: (req) => ({ body: { version: versionDoc(hostUrl(req)) } }) },
      { method: "POST", pattern: "/v2.1/servers", handler: withVersion((req, v) => this.create(req, v)) },
      {
        method: "GET",
        pattern: "/v2.1/servers",
        handler: withVersion((req) => ({ body: { servers: this.filtered(req.query).map((s) => ({ id: s.id, name: s.name, links: this.links(hostUrl(req), s.id) })) } })),
      },
      { method: "GET", pattern: "/v2.1/servers/detail", handler: withVersion((req, v) => ({ body: { servers: this.filtered(req.query).map((s) => this.serverView(hostUrl(req), s, v)) } })) },
      { method: "GET", pattern: "/v2.1/servers/:id", handler: withVersion((req, v) => ({ body: { server: this.serverView(hostUrl(req), this.mustGet(req.params.id!), v) } })) },
      { method: "PUT", pattern: "/v2.1/servers/:id", handler: withVersion((req, v) => this.update(req, v)) },
      {
        method: "DELETE",
        pattern: "/v2.1/servers/:id",
        handler: withVersion(async (req) => {
          const id = req.params.id!;
          this.mustGet(id);
          await this.queues.run(id, () => this.destroy(id));
          return { status: 204 };
        }),
      },
      {
        method: "GET",
        pattern: "/v2.1/servers/:id/os-interface",
        handler: withVersion((req) => {
          const s = this.mustGet(req.params.id!);
          const attachments = s.ports.flatMap((p) => {
            const vmi = this.o.store.find("virtual-machine-interface", p.portId);
            if (!vmi) return [];
            const port = this.o.neutron.portView(vmi);
            return [{ port_state: port.status, fixed_ips: port.fixed_ips, port_id: port.id, net_id: port.network_id, mac_addr: port.mac_address }];
          });
          return { body: { interfaceAttachments: attachments } };
        }),
      },
      {
        method: "GET",
        pattern: "/v2.1/servers/:id/metadata",
        handler: withVersion((req) => ({ body: { metadata: this.mustGet(req.params.id!).metadata } })),
      },
      { method: "GET", pattern: "/v2.1/flavors", handler: withVersion((req, v) => ({ body: { flavors: FLAVORS.map((f) => this.flavorView(hostUrl(req), f, v, false)) } })) },
      { method: "GET", pattern: "/v2.1/flavors/detail", handler: withVersion((req, v) => ({ body: { flavors: FLAVORS.map((f) => this.flavorView(hostUrl(req), f, v, true)) } })) },
      {
        method: "GET",
        pattern: "/v2.1/flavors/:id",
        handler: withVersion((req, v) => {
          const f = findFlavor(req.params.id!);
          if (!f) throw new ApiError(404, `Flavor ${req.params.id} could not be found.`);
          return { body: { flavor: this.flavorView(hostUrl(req), f, v, true) } };
        }),
      },
      { method: "GET", pattern: "/v2.1/flavors/:id/os-extra_specs", handler: withVersion(() => ({ body: { extra_specs: {} } })) },
      {
        method: "GET",
        pattern: "/v2.1/os-availability-zone",
        handler: withVersion(() => ({ body: { availabilityZoneInfo: [{ zoneName: "nova", zoneState: { available: true }, hosts: null }] } })),
      },
      {
        method: "GET",
        pattern: "/v2.1/limits",
        handler: withVersion(() => ({
          body: { limits: { rate: [], absolute: { maxTotalInstances: 1000, totalInstancesUsed: this.servers.all().length, maxTotalCores: 10000, totalCoresUsed: 0, maxTotalRAMSize: 10_000_000, totalRAMUsed: 0, maxServerMeta: 128, maxPersonality: 5, maxPersonalitySize: 10240, maxImageMeta: 128, maxSecurityGroups: 10, maxSecurityGroupRules: 20, maxTotalKeypairs: 100, maxServerGroups: 10, maxServerGroupMembers: 10, maxTotalFloatingIps: 10, totalFloatingIpsUsed: 0, totalSecurityGroupsUsed: 0, totalServerGroupsUsed: 0 } } },
        })),
      },
    ];
    return createJsonServer({
      name: "nova",
      routes,
      before: requireToken(this.o.auth, (req) => req.method === "GET" && ["/", "/v2.1", "/v2.1/"].includes(req.path)),
      renderError: (err, req) => {
        const out = novaError(err);
        let headers: Record<string, string> = {};
        try {
          if (req) headers = versionHeaders(requestedVersion(req));
        } catch {
          // the version itself was the problem; no echo
        }
        return { ...out, headers: { ...out.headers, ...headers } };
      },
    });
  }
}
