// The pods the lab runs, persisted so a restarted daemon knows (and re-creates) them. A pod's row
// is the record that owns its kernel side: it is written (Pending) before the runtime makes the
// namespace, and becomes Running with the namespace's eth0 once that exists, so a crash in
// between leaves a row the restart completes, never a namespace nobody owns.
import type { DatabaseSync } from "node:sqlite";

export type PodStatus = "Pending" | "Running";

export interface PodRecord {
  name: string;
  node: string;
  netns: string;
  uid: string;
  /** Empty (ip "", prefixLength 0, mac "") while Pending. */
  eth0: { ip: string; prefixLength: number; mac: string };
  status: PodStatus;
  createdAt: string;
  /** As a pod's metadata.annotations: what its creator wrote on it (e.g. who owns it). */
  annotations: Record<string, string>;
}

interface Row {
  name: string;
  node: string;
  netns: string;
  uid: string;
  eth0_ip: string;
  eth0_prefix_length: number;
  eth0_mac: string;
  created_at: string;
  status: string;
  annotations: string;
}

const toRecord = (r: Row): PodRecord => ({
  name: r.name,
  node: r.node,
  netns: r.netns,
  uid: r.uid,
  eth0: { ip: r.eth0_ip, prefixLength: Number(r.eth0_prefix_length), mac: r.eth0_mac },
  status: r.status === "Pending" ? "Pending" : "Running",
  createdAt: r.created_at,
  annotations: JSON.parse(r.annotations || "{}") as Record<string, string>,
});

export class PodStore {
  private readonly db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS lab_pods (
      name TEXT PRIMARY KEY,
      node TEXT NOT NULL,
      netns TEXT NOT NULL,
      uid TEXT NOT NULL,
      eth0_ip TEXT NOT NULL,
      eth0_prefix_length INTEGER NOT NULL,
      eth0_mac TEXT NOT NULL,
      created_at TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'Running',
      annotations TEXT NOT NULL DEFAULT '{}'
    )`);
    // Tables of 0.2 have neither column: their pods were all Running, with no annotations.
    const columns = new Set((db.prepare("PRAGMA table_info(lab_pods)").all() as Array<{ name: string }>).map((c) => c.name));
    if (!columns.has("status")) db.exec("ALTER TABLE lab_pods ADD COLUMN status TEXT NOT NULL DEFAULT 'Running'");
    if (!columns.has("annotations")) db.exec("ALTER TABLE lab_pods ADD COLUMN annotations TEXT NOT NULL DEFAULT '{}'");
  }

  get(name: string): PodRecord | undefined {
    const row = this.db.prepare("SELECT * FROM lab_pods WHERE name = ?").get(name) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(): PodRecord[] {
    return (this.db.prepare("SELECT * FROM lab_pods ORDER BY created_at, name").all() as unknown as Row[]).map(toRecord);
  }

  count(): number {
    return Number((this.db.prepare("SELECT count(*) AS n FROM lab_pods").get() as { n: number }).n);
  }

  insert(p: PodRecord): void {
    this.db
      .prepare(
        "INSERT INTO lab_pods (name, node, netns, uid, eth0_ip, eth0_prefix_length, eth0_mac, created_at, status, annotations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(p.name, p.node, p.netns, p.uid, p.eth0.ip, p.eth0.prefixLength, p.eth0.mac, p.createdAt, p.status, JSON.stringify(p.annotations));
  }

  /** The kernel side exists: the pod is Running with this netns and eth0. */
  markRunning(name: string, netns: string, eth0: PodRecord["eth0"]): void {
    this.db
      .prepare("UPDATE lab_pods SET netns = ?, eth0_ip = ?, eth0_prefix_length = ?, eth0_mac = ?, status = 'Running' WHERE name = ?")
      .run(netns, eth0.ip, eth0.prefixLength, eth0.mac, name);
  }

  remove(name: string): boolean {
    return Number(this.db.prepare("DELETE FROM lab_pods WHERE name = ?").run(name).changes) > 0;
  }
}
