// The pods the lab runs, persisted so a restarted daemon knows (and re-creates) them.
import type { DatabaseSync } from "node:sqlite";

export interface PodRecord {
  name: string;
  node: string;
  netns: string;
  uid: string;
  eth0: { ip: string; prefixLength: number; mac: string };
  status: "Running";
  createdAt: string;
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
}

const toRecord = (r: Row): PodRecord => ({
  name: r.name,
  node: r.node,
  netns: r.netns,
  uid: r.uid,
  eth0: { ip: r.eth0_ip, prefixLength: Number(r.eth0_prefix_length), mac: r.eth0_mac },
  status: "Running",
  createdAt: r.created_at,
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
      created_at TEXT NOT NULL
    )`);
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
      .prepare("INSERT INTO lab_pods (name, node, netns, uid, eth0_ip, eth0_prefix_length, eth0_mac, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .run(p.name, p.node, p.netns, p.uid, p.eth0.ip, p.eth0.prefixLength, p.eth0.mac, p.createdAt);
  }

  updateNetwork(name: string, netns: string, eth0: PodRecord["eth0"]): void {
    this.db
      .prepare("UPDATE lab_pods SET netns = ?, eth0_ip = ?, eth0_prefix_length = ?, eth0_mac = ? WHERE name = ?")
      .run(netns, eth0.ip, eth0.prefixLength, eth0.mac, name);
  }

  remove(name: string): boolean {
    return Number(this.db.prepare("DELETE FROM lab_pods WHERE name = ?").run(name).changes) > 0;
  }
}
