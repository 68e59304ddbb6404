// Which runtime pods (network namespaces) the kubelet role made for which Kubernetes pod. A row
// is written before the runtime makes the namespace, so a crash leaves a row that owns it; the
// restart compares the rows with the API server and the kernel.
import type { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";

export interface KubePodRecord {
  /** The runtime's pod name: its netns is <prefix>-pod-<runtimeName>. */
  runtimeName: string;
  namespace: string;
  name: string;
  uid: string;
  node: string;
}

/** Room left for the runtime name in a 64-character netns name after "<prefix>-pod-" (prefix <= 6). */
const MAX_RUNTIME_NAME = 53;

/**
 * The runtime name of a Kubernetes pod: "<namespace>-<name>" when that fits and is a DNS label,
 * else a readable head and a hash of both; the hash keeps "a-b/c" and "a/b-c" apart too.
 */
export function runtimeNameOf(namespace: string, name: string): string {
  const plain = `${namespace}-${name}`;
  const digest = createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 8);
  if (plain.length <= MAX_RUNTIME_NAME - 9 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(plain)) return `${plain}-${digest}`.slice(0, MAX_RUNTIME_NAME);
  const head = plain.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, MAX_RUNTIME_NAME - 9).replace(/^-+|-+$/g, "") || "pod";
  return `${head}-${digest}`;
}

/** A pod as people name it: "name" in namespace default (kubectl's default), else "namespace/name". */
export function displayName(r: Pick<KubePodRecord, "namespace" | "name">): string {
  return r.namespace === "default" ? r.name : `${r.namespace}/${r.name}`;
}

interface Row {
  runtime_name: string;
  namespace: string;
  name: string;
  uid: string;
  node: string;
}

const toRecord = (r: Row): KubePodRecord => ({ runtimeName: r.runtime_name, namespace: r.namespace, name: r.name, uid: r.uid, node: r.node });

export class KubePodStore {
  private readonly db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS lab_kube_pods (
      runtime_name TEXT PRIMARY KEY,
      namespace TEXT NOT NULL,
      name TEXT NOT NULL,
      uid TEXT NOT NULL,
      node TEXT NOT NULL
    )`);
  }

  list(): KubePodRecord[] {
    return (this.db.prepare("SELECT * FROM lab_kube_pods ORDER BY namespace, name").all() as unknown as Row[]).map(toRecord);
  }

  byPod(namespace: string, name: string): KubePodRecord | undefined {
    const row = this.db.prepare("SELECT * FROM lab_kube_pods WHERE namespace = ? AND name = ?").get(namespace, name) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  get(runtimeName: string): KubePodRecord | undefined {
    const row = this.db.prepare("SELECT * FROM lab_kube_pods WHERE runtime_name = ?").get(runtimeName) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  count(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM lab_kube_pods").get() as { n: number }).n;
  }

  owns(runtimeName: string): boolean {
    return this.db.prepare("SELECT 1 FROM lab_kube_pods WHERE runtime_name = ?").get(runtimeName) !== undefined;
  }

  put(r: KubePodRecord): void {
    this.db
      .prepare("INSERT INTO lab_kube_pods (runtime_name, namespace, name, uid, node) VALUES (?, ?, ?, ?, ?) ON CONFLICT(runtime_name) DO UPDATE SET namespace = excluded.namespace, name = excluded.name, uid = excluded.uid, node = excluded.node")
      .run(r.runtimeName, r.namespace, r.name, r.uid, r.node);
  }

  remove(runtimeName: string): void {
    this.db.prepare("DELETE FROM lab_kube_pods WHERE runtime_name = ?").run(runtimeName);
  }
}
