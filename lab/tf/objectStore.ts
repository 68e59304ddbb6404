// The object store under TF's config API, for any type of the schema: objects with parents,
// references and back references, create / read / update / delete with TF's checks and messages,
// list queries, ref and map-property updates, transactions and change events. Synchronous on top
// of sqlite, so two concurrent requests can never interleave. What a type requires or computes on
// top of that (network ids, addresses, ...) comes from its TypeRules.
import { randomUUID } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { checkResourceName } from "../../lib/validate/names.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import { inTransaction } from "../store/db.ts";
import { TfError, pyList } from "./errors.ts";
import { isObject, sameJson } from "./jsonValues.ts";
import { checkFields, initialProps, markModified, patchedProps, resolveParent, resolveRefs } from "./objectBody.ts";
import type { ResolvedRef } from "./objectBody.ts";
import { DEFAULT_BASE_URL, renderObject } from "./objectView.ts";
import type { ReadOptions, TfObject } from "./objectView.ts";
import { CONFIG_ROOT, isMapProperty, schemaOf, underscored } from "./schema.ts";
import type { TypeSchema } from "./schema.ts";
import type { ObjectRow, TfTables } from "./tables.ts";

export interface ListQuery {
  parentIds?: string[] | undefined;
  parentFqName?: string[] | undefined;
  parentType?: string | undefined;
  backRefIds?: string[] | undefined;
  objUuids?: string[] | undefined;
  fqNames?: string[][] | undefined;
  fields?: string[] | undefined;
  detail?: boolean | undefined;
  count?: boolean | undefined;
  /** field -> accepted values (any of them). */
  filters?: Record<string, unknown[]> | undefined;
  excludeHrefs?: boolean | undefined;
  baseUrl?: string | undefined;
}

export interface RefUpdateRequest {
  operation?: unknown;
  type?: unknown;
  uuid?: unknown;
  "ref-type"?: unknown;
  "ref-uuid"?: unknown;
  "ref-fq-name"?: unknown;
  attr?: unknown;
}

export interface ChangeEvent {
  op: "create" | "update" | "delete";
  type: string;
  uuid: string;
}

/**
 * What types add to the store, run inside the store's transaction after the generic checks: each
 * may refuse (TfError) and, on create and update, complete the properties and the attrs of the refs.
 */
export interface TypeRules {
  beforeCreate(type: string, uuid: string, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void;
  beforeUpdate(row: ObjectRow, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void;
  /** Frees what the object holds; it has passed the checks and goes right after. */
  beforeDelete(row: ObjectRow): void;
}

export class ObjectStore {
  private readonly db: DatabaseSync;
  private readonly t: TfTables;
  private readonly rules: TypeRules;
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  private pending: ChangeEvent[] = [];
  private depth = 0;

  constructor(db: DatabaseSync, tables: TfTables, rules: TypeRules) {
    this.db = db;
    this.t = tables;
    this.rules = rules;
  }

  /** Listens to every committed change; returns the unsubscribe function. */
  onChange(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs fn atomically: every store call inside commits together or not at all; events fire after commit. */
  transaction<T>(fn: () => T): T {
    this.depth += 1;
    try {
      const out = inTransaction(this.db, fn);
      if (this.depth === 1) this.flush();
      return out;
    } catch (err) {
      if (this.depth === 1) this.pending = [];
      throw err;
    } finally {
      this.depth -= 1;
    }
  }

  create(type: string, body: unknown, opts: ReadOptions = {}): TfObject {
    const schema = this.schema(type);
    return this.transaction(() => {
      if (!isObject(body)) throw new TfError(400, `Bad Request, body of a ${type} create must be a JSON object`);
      checkFields(type, schema, body, "create");
      const fq = body.fq_name;
      if (!Array.isArray(fq) || fq.length === 0) throw new TfError(400, "Bad Request, no fq_name in POST body");
      if (fq.some((e) => typeof e !== "string" || e === "")) throw new TfError(400, `Bad Request, fq_name must be a list of non-empty strings: ${JSON.stringify(fq)}`);
      const fqName = fq as string[];
      const nameProblem = checkResourceName(fqName[fqName.length - 1]);
      if (nameProblem) throw new TfError(400, `Bad Request, ${nameProblem}`);
      const existing = this.t.byFqName(type, fqName);
      if (existing) throw new TfError(409, `${pyList(fqName)} already exists with uuid: ${existing.uuid}`);
      const parent = resolveParent(this.t, schema, body, fqName);
      let uuid: string = randomUUID();
      if (body.uuid != null) {
        if (typeof body.uuid !== "string" || !isUuid(body.uuid)) throw new TfError(400, `Invalid UUID format: ${String(body.uuid)}`);
        const taken = this.t.get(body.uuid);
        if (taken) throw new TfError(409, `${body.uuid} already exists with fq_name: ${pyList(taken.fq_name)}`);
        uuid = body.uuid;
      }
      const refs = resolveRefs(this.t, schema, body, "create", type);
      const props = initialProps(schema, body, fqName);
      this.rules.beforeCreate(type, uuid, props, refs);
      this.t.insert({ uuid, type, fq_name: fqName, parent_type: parent?.type ?? null, parent_uuid: parent?.uuid ?? null, props });
      for (const [field, list] of refs) this.t.setRefs(uuid, field, list);
      this.emit({ op: "create", type, uuid });
      return renderObject(this.t, this.t.get(uuid)!, { ...opts, excludeBackRefs: true, excludeChildren: true });
    });
  }

  read(type: string, uuid: string, opts: ReadOptions = {}): TfObject {
    this.schema(type);
    return renderObject(this.t, this.mustGet(type, uuid), opts);
  }

  /** Like read, but undefined instead of 404 (for in-process callers). */
  find(type: string, uuid: string, opts: ReadOptions = {}): TfObject | undefined {
    const row = this.t.get(uuid);
    return row && row.type === type ? renderObject(this.t, row, opts) : undefined;
  }

  update(type: string, uuid: string, patch: unknown): TfObject {
    const schema = this.schema(type);
    return this.transaction(() => {
      const row = this.mustGet(type, uuid);
      if (!isObject(patch)) throw new TfError(400, `Bad Request, body of a ${type} update must be a JSON object`);
      checkFields(type, schema, patch, "update");
      if (patch.uuid != null && patch.uuid !== uuid) throw new TfError(400, `Bad Request, uuid ${String(patch.uuid)} in the body does not match ${uuid}`);
      if (patch.fq_name != null && !sameJson(patch.fq_name, row.fq_name)) {
        throw new TfError(400, `Bad Request, fq_name cannot be changed from ${pyList(row.fq_name)}`);
      }
      const refs = resolveRefs(this.t, schema, patch, "update", type);
      const props = patchedProps(schema, row.props, patch);
      this.rules.beforeUpdate(row, props, refs);
      markModified(props);
      this.t.updateProps(uuid, props);
      for (const [field, list] of refs) this.t.setRefs(uuid, field, list);
      this.emit({ op: "update", type, uuid });
      return renderObject(this.t, this.t.get(uuid)!, { excludeBackRefs: true, excludeChildren: true });
    });
  }

  delete(type: string, uuid: string, opts: { baseUrl?: string } = {}): void {
    this.schema(type);
    this.transaction(() => {
      const row = this.t.get(uuid);
      if (!row) throw new TfError(404, `ID ${uuid} does not exist`);
      if (row.type !== type) throw new TfError(404, `No ${type} object found for id ${uuid}`);
      const base = opts.baseUrl ?? DEFAULT_BASE_URL;
      const children = this.t.children(uuid);
      if (children.length) throw new TfError(409, `Delete when children still present: ${pyList(children.map((c) => `${base}/${c.type}/${c.uuid}`))}`);
      const referrers = this.t.backRefs(uuid);
      if (referrers.length) throw new TfError(409, `Delete when resource still referred: ${pyList(referrers.map((r) => `${base}/${r.type}/${r.uuid}`))}`);
      this.rules.beforeDelete(row);
      this.t.delete(uuid);
      this.emit({ op: "delete", type, uuid });
    });
  }

  list(type: string, q: ListQuery = {}): TfObject[] | { count: number } {
    const schema = this.schema(type);
    const where: string[] = [];
    const params: string[] = [];
    const inList = (col: string, values: string[]) => {
      where.push(`${col} IN (${values.map(() => "?").join(", ")})`);
      params.push(...values);
    };
    let parentIds = q.parentIds;
    if (q.parentFqName) {
      const candidates = q.parentType ? [q.parentType] : schema.parents.filter((p) => p !== CONFIG_ROOT);
      const parent = candidates.map((p) => this.t.byFqName(p, q.parentFqName!)).find((r) => r);
      if (!parent) throw new TfError(404, `Name ${pyList(q.parentFqName)} not found`);
      parentIds = [parent.uuid];
    }
    if (parentIds) inList("parent_uuid", parentIds);
    if (q.objUuids) inList("uuid", q.objUuids);
    if (q.fqNames) inList("fq_key", q.fqNames.map((f) => JSON.stringify(f)));
    if (q.backRefIds) {
      where.push(`uuid IN (SELECT from_uuid FROM tf_ref WHERE to_uuid IN (${q.backRefIds.map(() => "?").join(", ")}))`);
      params.push(...q.backRefIds);
    }
    let rows = this.t.select(type, where, params);
    if (q.filters && Object.keys(q.filters).length) {
      const fieldOf = (r: ObjectRow, k: string) => (k === "name" ? r.fq_name[r.fq_name.length - 1] : k === "uuid" ? r.uuid : k === "fq_name" ? r.fq_name : r.props[k]);
      rows = rows.filter((r) => Object.entries(q.filters!).every(([k, values]) => values.some((v) => sameJson(fieldOf(r, k), v))));
    }
    if (q.count) return { count: rows.length };
    const opts: ReadOptions = { fields: q.fields ?? [], excludeHrefs: q.excludeHrefs, baseUrl: q.baseUrl };
    if (q.detail) return rows.map((r) => renderObject(this.t, r, opts));
    return rows.map((r) => {
      const out: TfObject = { uuid: r.uuid, fq_name: r.fq_name };
      if (!q.excludeHrefs) out.href = `${q.baseUrl ?? DEFAULT_BASE_URL}/${type}/${r.uuid}`;
      if (q.fields?.length) {
        const full = renderObject(this.t, r, opts);
        for (const f of q.fields) if (f in full) out[f] = full[f];
      }
      return out;
    });
  }

  fqNameToId(type: string, fq: unknown): string {
    this.schema(type);
    if (!Array.isArray(fq)) throw new TfError(400, `Bad Request, fq_name must be a list: ${JSON.stringify(fq)}`);
    const row = this.t.byFqName(type, fq as string[]);
    if (!row) throw new TfError(404, `Name ${pyList(fq)} not found`);
    return row.uuid;
  }

  idToFqName(uuid: string): { fq_name: string[]; type: string } {
    const row = typeof uuid === "string" ? this.t.get(uuid) : undefined;
    if (!row) throw new TfError(404, `UUID ${uuid} not found`);
    return { fq_name: row.fq_name, type: row.type };
  }

  refUpdate(req: RefUpdateRequest): { uuid: string } {
    const { type, uuid, operation } = req;
    const refType = req["ref-type"];
    if (type == null || uuid == null || refType == null || operation == null) {
      throw new TfError(400, `Bad Request: type/uuid/ref-type/operation is null: ${String(type ?? "None")}, ${String(uuid ?? "None")}, ${String(refType ?? "None")}, ${String(operation ?? "None")}.`);
    }
    if (typeof type !== "string" || typeof refType !== "string" || typeof uuid !== "string" || typeof operation !== "string") {
      throw new TfError(400, "Bad Request: type, uuid, ref-type and operation must be strings");
    }
    const schema = this.schema(type);
    this.schema(refType);
    const op = operation.toUpperCase();
    if (op !== "ADD" && op !== "DELETE") throw new TfError(400, `Bad Request: operation should be add or delete: ${operation}`);
    const field = `${underscored(refType)}_refs`;
    if (schema.refs[field] !== refType) throw new TfError(400, `Bad Request: ${type} has no reference to ${refType}`);
    let refUuid = req["ref-uuid"];
    const refFq = req["ref-fq-name"];
    if (!refUuid && !refFq) throw new TfError(400, "Bad Request: ref-uuid or ref-fq-name must be specified");
    return this.transaction(() => {
      if (!refUuid) {
        const target = Array.isArray(refFq) ? this.t.byFqName(refType, refFq as string[]) : undefined;
        if (!target) throw new TfError(404, `Name ${pyList(Array.isArray(refFq) ? refFq : [String(refFq)])} not found`);
        refUuid = target.uuid;
      }
      if (typeof refUuid !== "string") throw new TfError(400, "Bad Request: ref-uuid must be a string");
      if (op === "ADD") {
        const target = this.t.get(refUuid);
        if (!target || target.type !== refType) throw new TfError(404, `Object Not Found: ${refUuid}`);
      }
      const row = this.t.get(uuid);
      if (!row || row.type !== type) throw new TfError(404, `Object Not Found: ${uuid}`);
      const current = this.t.refs(uuid).filter((r) => r.field === field).map((r) => ({ uuid: r.uuid, attr: r.attr }));
      const idx = current.findIndex((r) => r.uuid === refUuid);
      if (op === "ADD") {
        if (idx >= 0) current[idx] = { uuid: refUuid, attr: req.attr ?? null };
        else current.push({ uuid: refUuid, attr: req.attr ?? null });
      } else if (idx >= 0) {
        current.splice(idx, 1);
      } else {
        return { uuid };
      }
      this.update(type, uuid, { [field]: current });
      return { uuid };
    });
  }

  /**
   * TF's /prop-collection-update for map properties keyed by "key" (annotations,
   * virtual_machine_interface_bindings): "set" adds or replaces an entry, "delete" removes the entry
   * whose key is `position`. vnc_api sends annotations added with add_annotations() this way.
   */
  propCollectionUpdate(uuid: unknown, updates: unknown): void {
    if (typeof uuid !== "string" || uuid === "") throw new TfError(400, "Error: prop_collection_update needs obj_uuid");
    const row = this.t.get(uuid);
    if (!row) throw new TfError(404, `Object Not Found: ${uuid}`);
    if (updates != null && !Array.isArray(updates)) throw new TfError(400, "Bad Request: updates must be a list");
    const props = { ...row.props };
    for (const u of (updates ?? []) as Array<Record<string, unknown>>) {
      const field = u?.field;
      if (!isMapProperty(row.type, field)) {
        throw new TfError(400, `${String(field)} neither "ListProperty" nor "MapProperty"`);
      }
      const op = String(u.operation ?? "").toLowerCase();
      const entries = [...(((props[field] as { key_value_pair?: Array<{ key: string }> }) ?? {}).key_value_pair ?? [])];
      if (op === "set") {
        const v = u.value as { key?: unknown; value?: unknown };
        if (!isObject(v) || typeof v.key !== "string") throw new TfError(400, `Set needs field value in request ${JSON.stringify(u)}`);
        const at = entries.findIndex((e) => e.key === v.key);
        if (at >= 0) entries[at] = v as { key: string };
        else entries.push(v as { key: string });
      } else if (op === "delete") {
        const at = entries.findIndex((e) => e.key === String(u.position));
        if (at >= 0) entries.splice(at, 1);
      } else {
        throw new TfError(400, `Unsupported operation ${String(u.operation)} in request ${JSON.stringify(u)}`);
      }
      props[field] = { key_value_pair: entries };
    }
    this.transaction(() => {
      this.t.updateProps(uuid, props);
      this.emit({ op: "update", type: row.type, uuid });
    });
  }

  private schema(type: string): TypeSchema {
    const s = typeof type === "string" ? schemaOf(type) : undefined;
    if (!s) throw new TfError(404, `Invalid Contrail resource type:'${type}'`);
    return s;
  }

  private mustGet(type: string, uuid: string): ObjectRow {
    const row = this.t.get(uuid);
    if (!row) throw new TfError(404, `Unknown id: ${uuid}`);
    if (row.type !== type) throw new TfError(404, `No ${type} object found for id ${uuid}`);
    return row;
  }

  private emit(e: ChangeEvent): void {
    this.pending.push(e);
  }

  private flush(): void {
    const events = this.pending;
    this.pending = [];
    for (const e of events) {
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          console.error("[tf] change listener failed:", err);
        }
      }
    }
  }
}
