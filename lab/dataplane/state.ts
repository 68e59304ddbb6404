// What the data plane must remember to rebuild the kernel after a restart: VMs with their ports,
// and pods with their pod-network address.
import type { DatabaseSync } from "node:sqlite";
import type { VmPort, VmSpec } from "./types.ts";

export interface PodRow {
  name: string;
  uid: string;
  node: string;
  ip: string;
  mac: string;
}

export class DataplaneState {
  private readonly db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS dp_vms (
        server_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        node TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS dp_vm_ports (
        vmi_uuid TEXT PRIMARY KEY,
        server_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        vn_uuid TEXT NOT NULL,
        network_id INTEGER NOT NULL,
        mac TEXT NOT NULL,
        ip TEXT NOT NULL,
        prefix_length INTEGER NOT NULL,
        gateway TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS dp_pods (
        name TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        node TEXT NOT NULL,
        ip TEXT NOT NULL UNIQUE,
        mac TEXT NOT NULL
      );
    `);
  }

  saveVm(vm: VmSpec): void {
    this.db.exec("BEGIN");
    try {
      this.db.prepare("INSERT OR REPLACE INTO dp_vms (server_id, name, node) VALUES (?, ?, ?)").run(vm.serverId, vm.name, vm.node);
      this.db.prepare("DELETE FROM dp_vm_ports WHERE server_id = ?").run(vm.serverId);
      const ins = this.db.prepare(
        "INSERT OR REPLACE INTO dp_vm_ports (vmi_uuid, server_id, position, vn_uuid, network_id, mac, ip, prefix_length, gateway) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      );
      vm.ports.forEach((p, i) => ins.run(p.vmiUuid, vm.serverId, i, p.vnUuid, p.networkId, p.mac, p.ip, p.prefixLength, p.gateway));
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  deleteVm(serverId: string): void {
    this.db.prepare("DELETE FROM dp_vm_ports WHERE server_id = ?").run(serverId);
    this.db.prepare("DELETE FROM dp_vms WHERE server_id = ?").run(serverId);
  }

  getVm(serverId: string): VmSpec | undefined {
    const row = this.db.prepare("SELECT server_id, name, node FROM dp_vms WHERE server_id = ?").get(serverId) as
      | { server_id: string; name: string; node: string }
      | undefined;
    if (!row) return undefined;
    return { serverId: row.server_id, name: row.name, node: row.node, ports: this.vmPorts(row.server_id) };
  }

  listVms(): VmSpec[] {
    const rows = this.db.prepare("SELECT server_id FROM dp_vms ORDER BY server_id").all() as Array<{ server_id: string }>;
    return rows.map((r) => this.getVm(r.server_id)!);
  }

  private vmPorts(serverId: string): VmPort[] {
    const rows = this.db.prepare("SELECT * FROM dp_vm_ports WHERE server_id = ? ORDER BY position").all(serverId) as Array<Record<string, string | number>>;
    return rows.map((r) => ({
      vmiUuid: String(r.vmi_uuid),
      vnUuid: String(r.vn_uuid),
      networkId: Number(r.network_id),
      mac: String(r.mac),
      ip: String(r.ip),
      prefixLength: Number(r.prefix_length),
      gateway: String(r.gateway),
    }));
  }

  savePod(p: PodRow): void {
    this.db.prepare("INSERT OR REPLACE INTO dp_pods (name, uid, node, ip, mac) VALUES (?, ?, ?, ?, ?)").run(p.name, p.uid, p.node, p.ip, p.mac);
  }

  deletePod(name: string): void {
    this.db.prepare("DELETE FROM dp_pods WHERE name = ?").run(name);
  }

  getPod(name: string): PodRow | undefined {
    return this.db.prepare("SELECT name, uid, node, ip, mac FROM dp_pods WHERE name = ?").get(name) as PodRow | undefined;
  }

  listPods(): PodRow[] {
    return this.db.prepare("SELECT name, uid, node, ip, mac FROM dp_pods ORDER BY name").all() as unknown as PodRow[];
  }

  podIpsOnNode(node: string): string[] {
    return (this.db.prepare("SELECT ip FROM dp_pods WHERE node = ?").all(node) as Array<{ ip: string }>).map((r) => r.ip);
  }
}
