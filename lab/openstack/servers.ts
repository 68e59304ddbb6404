// Nova's own records of servers (what is not in TF: name, flavor, image, host, status, fault),
// persisted in sqlite.
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** HARD_REBOOT: a hard reboot in progress (the guest powered off and on, its ports plugged again). */
export type ServerStatus = "BUILD" | "ACTIVE" | "ERROR" | "HARD_REBOOT";

export interface ServerPort {
  portId: string;
  /** Created by Nova for a {uuid} request (deleted with the server) or given by the user (unbound). */
  ownedByNova: boolean;
}

export interface ServerRecord {
  id: string;
  name: string;
  host: string;
  status: ServerStatus;
  flavorId: string;
  imageId: string;
  metadata: Record<string, string>;
  ports: ServerPort[];
  created: string;
  updated: string;
  launchedAt: string | null;
  fault: { code: number; message: string; created: string; details?: string } | null;
  instanceNumber: number;
  keyName: string | null;
  /** Set at boot or by PUT /servers/{id}; absent in records written before they existed. */
  accessIPv4?: string | null;
  accessIPv6?: string | null;
  /** From microversion 2.19. */
  description?: string | null;
}

const DDL = `CREATE TABLE IF NOT EXISTS os_server (id TEXT PRIMARY KEY, host TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL)`;

export class ServerTable {
  private readonly st: Record<"get" | "all" | "insert" | "update" | "delete" | "maxSeq", StatementSync>;

  constructor(db: DatabaseSync) {
    db.exec(DDL);
    this.st = {
      get: db.prepare("SELECT doc FROM os_server WHERE id = ?"),
      all: db.prepare("SELECT doc FROM os_server ORDER BY seq"),
      insert: db.prepare("INSERT INTO os_server (id, host, seq, doc) VALUES (?, ?, ?, ?)"),
      update: db.prepare("UPDATE os_server SET doc = ? WHERE id = ?"),
      delete: db.prepare("DELETE FROM os_server WHERE id = ?"),
      maxSeq: db.prepare("SELECT COALESCE(MAX(seq), 0) AS m FROM os_server"),
    };
  }

  get(id: string): ServerRecord | undefined {
    const r = this.st.get.get(id) as { doc: string } | undefined;
    return r ? (JSON.parse(r.doc) as ServerRecord) : undefined;
  }

  all(): ServerRecord[] {
    return (this.st.all.all() as Array<{ doc: string }>).map((r) => JSON.parse(r.doc) as ServerRecord);
  }

  nextInstanceNumber(): number {
    return Number((this.st.maxSeq.get() as { m: number }).m) + 1;
  }

  insert(s: ServerRecord): void {
    this.st.insert.run(s.id, s.host, s.instanceNumber, JSON.stringify(s));
  }

  save(s: ServerRecord): void {
    this.st.update.run(JSON.stringify(s), s.id);
  }

  delete(id: string): void {
    this.st.delete.run(id);
  }
}
