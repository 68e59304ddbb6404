// The plugged-port table: what each agent was asked to plug (kept across restarts, like the
// agent's port files under /var/lib/contrail/ports) and what of it is realized in the kernel.
import type { DatabaseSync } from "node:sqlite";
import type { Gateway } from "../dataplane/vnPlumbing.ts";

/** A port that has its config and its interface: it is on its VN's bridge and in the routes. */
export interface ActivePort {
  networkId: number;
  vnUuid: string;
  mac: string;
  ip: string;
  prefixLength: number;
  gateways: Gateway[];
}

export interface PortRow {
  uuid: string;
  node: string;
  systemName: string;
  /** The POST /port object as the client sent it. */
  request: Record<string, unknown>;
  createdAt: string;
  active?: ActivePort;
}

interface Row {
  uuid: string;
  node: string;
  system_name: string;
  request: string;
  created_at: string;
  active: string | null;
}

const toPort = (r: Row): PortRow => ({
  uuid: r.uuid,
  node: r.node,
  systemName: r.system_name,
  request: JSON.parse(r.request) as Record<string, unknown>,
  createdAt: r.created_at,
  ...(r.active ? { active: JSON.parse(r.active) as ActivePort } : {}),
});

export class PortStore {
  private readonly db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS vr_ports (
      uuid TEXT PRIMARY KEY,
      node TEXT NOT NULL,
      system_name TEXT NOT NULL,
      request TEXT NOT NULL,
      created_at TEXT NOT NULL,
      active TEXT
    )`);
  }

  get(uuid: string): PortRow | undefined {
    const r = this.db.prepare("SELECT * FROM vr_ports WHERE uuid = ?").get(uuid) as Row | undefined;
    return r ? toPort(r) : undefined;
  }

  list(node?: string): PortRow[] {
    const rows = (node === undefined
      ? this.db.prepare("SELECT * FROM vr_ports ORDER BY created_at, uuid").all()
      : this.db.prepare("SELECT * FROM vr_ports WHERE node = ? ORDER BY created_at, uuid").all(node)) as unknown as Row[];
    return rows.map(toPort);
  }

  put(p: PortRow): void {
    this.db
      .prepare("INSERT OR REPLACE INTO vr_ports (uuid, node, system_name, request, created_at, active) VALUES (?, ?, ?, ?, ?, ?)")
      .run(p.uuid, p.node, p.systemName, JSON.stringify(p.request), p.createdAt, p.active ? JSON.stringify(p.active) : null);
  }

  setActive(uuid: string, active: ActivePort | undefined): void {
    this.db.prepare("UPDATE vr_ports SET active = ? WHERE uuid = ?").run(active ? JSON.stringify(active) : null, uuid);
  }

  delete(uuid: string): void {
    this.db.prepare("DELETE FROM vr_ports WHERE uuid = ?").run(uuid);
  }
}
