// sqlite persistence of TF objects: one row per object (properties as JSON), one row per reference
// (with its attr).
import type { DatabaseSync, StatementSync } from "node:sqlite";

export interface ObjectRow {
  uuid: string;
  type: string;
  fq_name: string[];
  parent_type: string | null;
  parent_uuid: string | null;
  props: Record<string, unknown>;
  seq: number;
}

export interface RefRow {
  field: string;
  uuid: string;
  type: string;
  fq_name: string[];
  attr: unknown;
}

export interface ChildRow {
  uuid: string;
  type: string;
  fq_name: string[];
}

const DDL = `
CREATE TABLE IF NOT EXISTS tf_object (
  uuid TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  fq_key TEXT NOT NULL,
  parent_type TEXT,
  parent_uuid TEXT,
  props TEXT NOT NULL,
  seq INTEGER NOT NULL,
  UNIQUE (type, fq_key)
);
CREATE INDEX IF NOT EXISTS tf_object_parent ON tf_object (parent_uuid);
CREATE INDEX IF NOT EXISTS tf_object_type ON tf_object (type, seq);
CREATE TABLE IF NOT EXISTS tf_ref (
  from_uuid TEXT NOT NULL,
  field TEXT NOT NULL,
  to_uuid TEXT NOT NULL,
  attr TEXT,
  pos INTEGER NOT NULL,
  PRIMARY KEY (from_uuid, field, to_uuid)
);
CREATE INDEX IF NOT EXISTS tf_ref_to ON tf_ref (to_uuid);
`;

type Raw = Record<string, unknown>;

function toObject(r: Raw): ObjectRow {
  return {
    uuid: r.uuid as string,
    type: r.type as string,
    fq_name: JSON.parse(r.fq_key as string) as string[],
    parent_type: (r.parent_type as string | null) ?? null,
    parent_uuid: (r.parent_uuid as string | null) ?? null,
    props: JSON.parse(r.props as string) as Record<string, unknown>,
    seq: Number(r.seq),
  };
}

/** A reference row, read from either end (refs and back refs select the same columns). */
function toRefRow(r: Raw): RefRow {
  return {
    field: r.field as string,
    uuid: r.uuid as string,
    type: r.type as string,
    fq_name: JSON.parse(r.fq_key as string) as string[],
    attr: r.attr == null ? null : JSON.parse(r.attr as string),
  };
}

export class TfTables {
  private readonly db: DatabaseSync;
  private readonly st: Record<string, StatementSync>;
  private seq: number;

  constructor(db: DatabaseSync) {
    this.db = db;
    db.exec(DDL);
    const p = (sql: string) => db.prepare(sql);
    this.st = {
      get: p("SELECT * FROM tf_object WHERE uuid = ?"),
      byFq: p("SELECT * FROM tf_object WHERE type = ? AND fq_key = ?"),
      insert: p("INSERT INTO tf_object (uuid, type, fq_key, parent_type, parent_uuid, props, seq) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      updateProps: p("UPDATE tf_object SET props = ? WHERE uuid = ?"),
      delete: p("DELETE FROM tf_object WHERE uuid = ?"),
      refs: p(
        "SELECT r.field, r.to_uuid AS uuid, o.type, o.fq_key, r.attr FROM tf_ref r JOIN tf_object o ON o.uuid = r.to_uuid WHERE r.from_uuid = ? ORDER BY r.field, r.pos",
      ),
      backRefs: p(
        "SELECT r.field, r.from_uuid AS uuid, o.type, o.fq_key, r.attr FROM tf_ref r JOIN tf_object o ON o.uuid = r.from_uuid WHERE r.to_uuid = ? ORDER BY o.seq",
      ),
      children: p("SELECT uuid, type, fq_key FROM tf_object WHERE parent_uuid = ? ORDER BY seq"),
      insertRef: p("INSERT INTO tf_ref (from_uuid, field, to_uuid, attr, pos) VALUES (?, ?, ?, ?, ?)"),
      deleteRefsOfField: p("DELETE FROM tf_ref WHERE from_uuid = ? AND field = ?"),
      deleteRefsFrom: p("DELETE FROM tf_ref WHERE from_uuid = ?"),
      maxSeq: p("SELECT COALESCE(MAX(seq), 0) AS m FROM tf_object"),
    };
    this.seq = Number((this.st.maxSeq!.get() as Raw).m);
  }

  get(uuid: string): ObjectRow | undefined {
    const r = this.st.get!.get(uuid) as Raw | undefined;
    return r ? toObject(r) : undefined;
  }

  byFqName(type: string, fq: readonly string[]): ObjectRow | undefined {
    const r = this.st.byFq!.get(type, JSON.stringify(fq)) as Raw | undefined;
    return r ? toObject(r) : undefined;
  }

  /** Objects of `type` matching an optional SQL condition on tf_object columns (used by list). */
  select(type: string, where: string[], params: (string | number)[]): ObjectRow[] {
    const sql = `SELECT * FROM tf_object WHERE type = ?${where.map((w) => ` AND ${w}`).join("")} ORDER BY seq`;
    return (this.db.prepare(sql).all(type, ...params) as Raw[]).map(toObject);
  }

  insert(o: Omit<ObjectRow, "seq">): void {
    this.seq += 1;
    this.st.insert!.run(o.uuid, o.type, JSON.stringify(o.fq_name), o.parent_type, o.parent_uuid, JSON.stringify(o.props), this.seq);
  }

  updateProps(uuid: string, props: Record<string, unknown>): void {
    this.st.updateProps!.run(JSON.stringify(props), uuid);
  }

  delete(uuid: string): void {
    this.st.deleteRefsFrom!.run(uuid);
    this.st.delete!.run(uuid);
  }

  refs(uuid: string): RefRow[] {
    return (this.st.refs!.all(uuid) as Raw[]).map(toRefRow);
  }

  backRefs(uuid: string): RefRow[] {
    return (this.st.backRefs!.all(uuid) as Raw[]).map(toRefRow);
  }

  children(uuid: string): ChildRow[] {
    return (this.st.children!.all(uuid) as Raw[]).map((r) => ({ uuid: r.uuid as string, type: r.type as string, fq_name: JSON.parse(r.fq_key as string) as string[] }));
  }

  /** Replaces every reference of one ref field. */
  setRefs(uuid: string, field: string, refs: Array<{ uuid: string; attr: unknown }>): void {
    this.st.deleteRefsOfField!.run(uuid, field);
    refs.forEach((r, i) => this.st.insertRef!.run(uuid, field, r.uuid, r.attr == null ? null : JSON.stringify(r.attr), i));
  }
}
