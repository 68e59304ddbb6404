// How Nova shows servers, flavors and a server's interfaces, per microversion. Addresses and
// interfaces are read from the TF objects of the server's ports, so they show what TF holds now.
import { createHash } from "node:crypto";
import type { ConfigStore } from "../tf/configStore.ts";
import { FLAVORS, findFlavor } from "./catalogData.ts";
import type { Flavor } from "./catalogData.ts";
import { refsOf } from "./common.ts";
import { atLeast } from "./microversion.ts";
import type { Microversion } from "./microversion.ts";
import type { NeutronModel } from "./neutronModel.ts";
import type { ServerRecord } from "./servers.ts";

type Json = Record<string, unknown>;

export interface NovaViewsOptions {
  store: ConfigStore;
  neutron: NeutronModel;
  projectId: string;
  userId: string;
}

/** What Nova's update answer leaves out before 2.75 (it shows server_groups from 2.71). */
const NOT_IN_UPDATE_ANSWER = /^(OS-EXT-AZ:|OS-EXT-SRV-ATTR:|OS-SRV-USG:|OS-EXT-STS:|os-extended-volumes:|config_drive$|key_name$|security_groups$|host_status$)/;

export function links(base: string, id: string, what = "servers") {
  return [
    { rel: "self", href: `${base}/v2.1/${what}/${id}` },
    { rel: "bookmark", href: `${base}/${what}/${id}` },
  ];
}

export function flavorView(base: string, f: Flavor, v: Microversion, detail: boolean): Json {
  const out: Json = { id: f.id, name: f.name, links: links(base, f.id, "flavors") };
  if (!detail) return out;
  Object.assign(out, {
    vcpus: f.vcpus, ram: f.ram, disk: f.disk, swap: atLeast(v, 75) ? 0 : "", rxtx_factor: 1.0,
    "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": false, "os-flavor-access:is_public": true,
  });
  if (atLeast(v, 55)) out.description = null;
  if (atLeast(v, 61)) out.extra_specs = {};
  return out;
}

export class ServerViews {
  private readonly o: NovaViewsOptions;

  constructor(opts: NovaViewsOptions) {
    this.o = opts;
  }

  /** The server as GET shows it; `extended: false` leaves out what Nova's update answer omits before 2.75. */
  server(base: string, s: ServerRecord, v: Microversion, opts: { extended?: boolean } = {}): Json {
    const extended = opts.extended ?? true;
    const flavor = findFlavor(s.flavorId) ?? FLAVORS[0]!;
    const state = { BUILD: ["building", "spawning", 0], ACTIVE: ["active", null, 1], ERROR: ["error", null, 0], HARD_REBOOT: ["active", "reboot_started_hard", 1] }[s.status];
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
      links: links(base, s.id),
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

  /** GET /servers/{id}/os-interface. */
  interfaceAttachments(s: ServerRecord): Json[] {
    return s.ports.flatMap((p) => {
      const vmi = this.o.store.find("virtual-machine-interface", p.portId);
      if (!vmi) return [];
      const port = this.o.neutron.portView(vmi);
      return [{ port_state: port.status, fixed_ips: port.fixed_ips, port_id: port.id, net_id: port.network_id, mac_addr: port.mac_address }];
    });
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
}
