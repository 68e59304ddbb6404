// sqlite persistence of what TF allocates: the virtual network id pool and, per virtual network,
// the addresses its instance-ips hold.
import type { DatabaseSync, StatementSync } from "node:sqlite";

const DDL = `
CREATE TABLE IF NOT EXISTS tf_vn_id (id INTEGER PRIMARY KEY, vn_uuid TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS tf_ip (vn_uuid TEXT NOT NULL, addr INTEGER NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (vn_uuid, addr));
CREATE INDEX IF NOT EXISTS tf_ip_owner ON tf_ip (owner);
`;

type Raw = Record<string, unknown>;

export class AllocationTables {
  private readonly st: Record<string, StatementSync>;

  constructor(db: DatabaseSync) {
    db.exec(DDL);
    const p = (sql: string) => db.prepare(sql);
    this.st = {
      vnIds: p("SELECT id FROM tf_vn_id ORDER BY id"),
      insertVnId: p("INSERT INTO tf_vn_id (id, vn_uuid) VALUES (?, ?)"),
      deleteVnId: p("DELETE FROM tf_vn_id WHERE vn_uuid = ?"),
      ipsInRange: p("SELECT addr FROM tf_ip WHERE vn_uuid = ? AND addr BETWEEN ? AND ?"),
      ipOwner: p("SELECT owner FROM tf_ip WHERE vn_uuid = ? AND addr = ?"),
      insertIp: p("INSERT INTO tf_ip (vn_uuid, addr, owner) VALUES (?, ?, ?)"),
      deleteIpsOf: p("DELETE FROM tf_ip WHERE owner = ?"),
      ipCountInRange: p("SELECT addr FROM tf_ip WHERE vn_uuid = ? AND addr BETWEEN ? AND ? LIMIT 1"),
    };
  }

  /** Lowest free virtual network id from 1 upward (as TF's id allocator hands them out). */
  allocateVnId(vnUuid: string, max: number): number | undefined {
    let expect = 1;
    for (const r of this.st.vnIds!.all() as Raw[]) {
      const id = Number(r.id);
      if (id !== expect) break;
      expect += 1;
    }
    if (expect > max) return undefined;
    this.st.insertVnId!.run(expect, vnUuid);
    return expect;
  }

  freeVnId(vnUuid: string): void {
    this.st.deleteVnId!.run(vnUuid);
  }

  allocatedIn(vnUuid: string, from: number, to: number): Set<number> {
    return new Set((this.st.ipsInRange!.all(vnUuid, from, to) as Raw[]).map((r) => Number(r.addr)));
  }

  ipOwner(vnUuid: string, addr: number): string | undefined {
    const r = this.st.ipOwner!.get(vnUuid, addr) as Raw | undefined;
    return r ? (r.owner as string) : undefined;
  }

  anyIpIn(vnUuid: string, from: number, to: number): number | undefined {
    const r = this.st.ipCountInRange!.get(vnUuid, from, to) as Raw | undefined;
    return r ? Number(r.addr) : undefined;
  }

  recordIp(vnUuid: string, addr: number, owner: string): void {
    this.st.insertIp!.run(vnUuid, addr, owner);
  }

  releaseIpsOf(owner: string): void {
    this.st.deleteIpsOf!.run(owner);
  }
}
