// Nova's servers over the TF store. Booting a server creates its TF objects (virtual-machine with
// the server's uuid, ports = VMI + instance-ip via NeutronModel, the virtual-router ->
// virtual-machine ref of the chosen node) in one transaction, then boots it through the data
// plane's VmRuntime: BUILD -> ACTIVE, or ERROR with a fault. Delete undoes all of it.
import { randomUUID } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { LAB_CRASH_ENV, crashPoint, crashRequested } from "../../lib/crashPoint.ts";
import { ApiError } from "../../lib/http/server.ts";
import { KeyedQueue } from "../../lib/keyedQueue.ts";
import type { VmPort, VmRuntime } from "../dataplane/types.ts";
import type { ConfigStore } from "../tf/configStore.ts";
import { isoSeconds, refsOf } from "./common.ts";
import type { NeutronModel } from "./neutronModel.ts";
import type { BootRequest, Editable, NetworkRequest } from "./novaRequests.ts";
import { ServerTable } from "./servers.ts";
import type { ServerPort, ServerRecord } from "./servers.ts";

export interface NovaModelOptions {
  db: DatabaseSync;
  store: ConfigStore;
  neutron: NeutronModel;
  computeNodes: string[];
  vmRuntime: VmRuntime;
  log?: (msg: string) => void;
  /** A boot that takes longer puts the server in ERROR (so a stuck boot never wedges its delete). */
  bootTimeoutMs?: number;
}

const bad = (msg: string) => new ApiError(400, msg);

export class NovaModel {
  private readonly o: NovaModelOptions;
  private readonly servers: ServerTable;
  /** One chain of work per server, so a delete waits for a boot in progress. */
  private readonly queues = new KeyedQueue();

  constructor(opts: NovaModelOptions) {
    this.o = opts;
    this.servers = new ServerTable(opts.db);
  }

  isServer = (id: string): boolean => this.servers.get(id) !== undefined;

  /** After a restart: boot again what was still building (bootVm is idempotent). */
  resume(): void {
    for (const s of this.servers.all()) {
      if (s.status === "BUILD" || s.status === "HARD_REBOOT") void this.queues.run(s.id, () => this.boot(s.id, s.status as "BUILD" | "HARD_REBOOT"));
    }
  }

  /** Waits until every queued boot/delete has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.queues.idle();
  }

  /** The server, or Nova's 404. */
  get(id: string): ServerRecord {
    const s = this.servers.get(id);
    if (!s) throw new ApiError(404, `Instance ${id} could not be found.`);
    return s;
  }

  /**
   * GET /servers/{id}. Test hook: the daemon dies when a client asks about a server in BUILD, so
   * after it accepted the server and answered with its id (the boot waits for that, see boot).
   */
  show(id: string): ServerRecord {
    const s = this.get(id);
    if (s.status === "BUILD") crashPoint("nova.build-polled", LAB_CRASH_ENV);
    return s;
  }

  list(): ServerRecord[] {
    return this.servers.all();
  }

  // ---- boot ------------------------------------------------------------------------------------

  /** Creates the server (BUILD) with its TF objects and queues its boot; answers its id. */
  create(req: BootRequest): string {
    const requests = req.networks === "auto" ? this.autoNetwork() : req.networks;
    const host = this.schedule(req.availabilityZone);
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
      store.create("virtual-machine", { uuid: id, fq_name: [id], display_name: req.name, server_type: "virtual-server" });
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
        id, name: req.name, host, status: "BUILD", flavorId: req.flavor.id, imageId: req.image.id, metadata: req.metadata, ports: out,
        created: t, updated: t, launchedAt: null, fault: null, instanceNumber: this.servers.nextInstanceNumber(),
        keyName: req.keyName,
        ...req.editable,
      });
    });
    // Test hook: the daemon dies with the server committed (BUILD) and its answer never sent.
    crashPoint("nova.server-accepted", LAB_CRASH_ENV);
    void this.queues.run(id, () => this.boot(id));
    return id;
  }

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

  /** "auto": the project's only network. */
  private autoNetwork(): NetworkRequest[] {
    const nets = this.o.neutron.listNetworkObjects().filter((n) => n.router_external !== true && n.fq_name[1] === "admin");
    if (nets.length === 0) throw bad("Unable to automatically allocate a network for project: the admin project has no network.");
    if (nets.length > 1) throw new ApiError(409, "Multiple possible networks found, use a Network ID to be more specific.");
    return [{ uuid: nets[0]!.uuid }];
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

  /** Boots a server in `from` (BUILD, or HARD_REBOOT for a reboot): the data plane builds or repairs it, then ACTIVE. */
  private async boot(id: string, from: "BUILD" | "HARD_REBOOT" = "BUILD"): Promise<void> {
    const s = this.servers.get(id);
    if (!s || s.status !== from) return;
    // Test hook (nova.build-polled, see get): new servers stay in BUILD until the daemon dies.
    if (from === "BUILD" && crashRequested("nova.build-polled", LAB_CRASH_ENV)) return;
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
      this.servers.save({ ...now, status: "ACTIVE", updated: isoSeconds(), launchedAt: now.launchedAt ?? new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000") });
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

  // ---- reboot ----------------------------------------------------------------------------------

  /**
   * POST /servers/{id}/action {"reboot": {"type": "HARD"}}: the guest is powered off and on again
   * and, as libvirt's hard reboot does, its ports are plugged into the vRouter again (a port the
   * agent lost comes back). HARD_REBOOT until done, then ACTIVE (or ERROR with a fault). Nova
   * accepts a hard reboot of an ACTIVE or ERROR server; SOFT is the guest's own restart, which
   * changes nothing the lab models.
   */
  reboot(id: string, type: unknown): void {
    const s = this.get(id);
    if (type !== "HARD" && type !== "SOFT") throw bad(`Invalid input for field/attribute type. Value: ${JSON.stringify(type)}. '${String(type)}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']`);
    const allowed = type === "HARD" ? ["ACTIVE", "ERROR"] : ["ACTIVE"];
    if (!allowed.includes(s.status)) {
      const vmState = { BUILD: "building", ERROR: "error", ACTIVE: "active", HARD_REBOOT: "active" }[s.status];
      throw new ApiError(409, `Cannot 'reboot' instance ${id} while it is in vm_state ${vmState}`);
    }
    if (type === "SOFT") return;
    this.servers.save({ ...s, status: "HARD_REBOOT", fault: null, updated: isoSeconds() });
    void this.queues.run(id, () => this.boot(id, "HARD_REBOOT"));
  }

  // ---- metadata --------------------------------------------------------------------------------

  /** PUT /servers/{id}/metadata/{key}: sets one item; answers the server's metadata. */
  setMetadataItem(id: string, key: string, value: string): Record<string, string> {
    const s = this.get(id);
    const metadata = { ...s.metadata, [key]: value };
    this.servers.save({ ...s, metadata, updated: isoSeconds() });
    return metadata;
  }

  // ---- update ----------------------------------------------------------------------------------

  /** Changes the server in place; the TF virtual-machine keeps the server's name as its display_name, as at boot. */
  update(id: string, changes: Editable): ServerRecord {
    const s = this.get(id);
    const next: ServerRecord = { ...s, ...changes, updated: isoSeconds() };
    const { store } = this.o;
    store.transaction(() => {
      if (changes.name !== undefined && changes.name !== s.name && store.find("virtual-machine", id)) {
        store.update("virtual-machine", id, { display_name: changes.name });
      }
      this.servers.save(next);
    });
    return next;
  }

  // ---- delete ----------------------------------------------------------------------------------

  /** Deletes the server once a boot in progress has finished. */
  async delete(id: string): Promise<void> {
    this.get(id);
    await this.queues.run(id, () => this.destroy(id));
  }

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
}
