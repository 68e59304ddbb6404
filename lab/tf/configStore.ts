// The TF object database of the lab: what contrail-api does between the wire and Cassandra, kept
// synchronous on top of sqlite so two concurrent requests can never get the same network id or
// address. Used by the TF HTTP API, by Neutron (as TF's Neutron plugin does) and by the vRouter agents.
import { randomUUID } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { formatIpv4 } from "../../lib/ipv4.ts";
import { checkMac } from "../../lib/validate/mac.ts";
import { checkResourceName } from "../../lib/validate/names.ts";
import { isUuid } from "../../lib/validate/uuid.ts";
import { inTransaction } from "../store/db.ts";
import { TfError, pyList } from "./errors.ts";
import { allocateAddress } from "./ipAlloc.ts";
import { backRefFields, childFields, schemaOf, underscored } from "./schema.ts";
import type { TypeSchema } from "./schema.ts";
import { completeVnSubnets, subnetsOf } from "./subnets.ts";
import type { VnSubnets } from "./subnets.ts";
import { TfTables } from "./tables.ts";
import type { ObjectRow, RefRow } from "./tables.ts";
import { checkValue } from "./valueSpec.ts";

export { TfError } from "./errors.ts";

export type TfObject = Record<string, unknown> & { uuid: string; fq_name: string[] };

export interface ReadOptions {
  /** Back references / children to include (properties and references always come). */
  fields?: string[] | undefined;
  excludeBackRefs?: boolean | undefined;
  excludeChildren?: boolean | undefined;
  excludeHrefs?: boolean | undefined;
  /** Prefix of hrefs, e.g. "http://127.0.0.1:8082". */
  baseUrl?: string | undefined;
}

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

export interface ConfigStoreOptions {
  /** Compute / k8s nodes; each gets a virtual-router. */
  nodes: Array<{ name: string; ip: string }>;
}

export const DEFAULT_BASE_URL = "http://127.0.0.1:8082";
const MAX_VN_ID = 2 ** 24 - 1;
const CONFIG_ROOT = "config-root";
const ENVELOPE = new Set(["uuid", "fq_name", "parent_type", "parent_uuid", "parent_href", "href", "name"]);

interface ResolvedRef {
  uuid: string;
  attr: unknown;
}

const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** TF timestamps: UTC ISO without zone, microseconds. */
const now = () => new Date().toISOString().replace("Z", "000");

function uuidHalves(uuid: string): { uuid_mslong: unknown; uuid_lslong: unknown } {
  const hex = uuid.replace(/-/g, "");
  return { uuid_mslong: rawJson(BigInt(`0x${hex.slice(0, 16)}`).toString()), uuid_lslong: rawJson(BigInt(`0x${hex.slice(16)}`).toString()) };
}

/** TF's VMI MAC when none is given: 02 followed by bytes of the uuid. */
export function macFromUuid(uuid: string): string {
  return `02:${uuid.slice(0, 2)}:${uuid.slice(2, 4)}:${uuid.slice(4, 6)}:${uuid.slice(6, 8)}:${uuid.slice(9, 11)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class ConfigStore {
  private readonly db: DatabaseSync;
  private readonly t: TfTables;
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  private pending: ChangeEvent[] = [];
  private depth = 0;

  constructor(db: DatabaseSync, opts: ConfigStoreOptions) {
    this.db = db;
    this.t = new TfTables(db);
    this.seed(opts.nodes);
  }

  // ---- public API -------------------------------------------------------------------------

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

  /** The type of the object with this uuid, or undefined. */
  typeOf(uuid: string): string | undefined {
    return this.t.get(uuid)?.type;
  }

  create(type: string, body: unknown, opts: ReadOptions = {}): TfObject {
    const schema = this.schema(type);
    return this.transaction(() => {
      if (!isObject(body)) throw new TfError(400, `Bad Request, body of a ${type} create must be a JSON object`);
      this.checkFields(type, schema, body, "create");
      const fq = body.fq_name;
      if (!Array.isArray(fq) || fq.length === 0) throw new TfError(400, "Bad Request, no fq_name in POST body");
      if (fq.some((e) => typeof e !== "string" || e === "")) throw new TfError(400, `Bad Request, fq_name must be a list of non-empty strings: ${JSON.stringify(fq)}`);
      const fqName = fq as string[];
      const nameProblem = checkResourceName(fqName[fqName.length - 1]);
      if (nameProblem) throw new TfError(400, `Bad Request, ${nameProblem}`);
      const existing = this.t.byFqName(type, fqName);
      if (existing) throw new TfError(409, `${pyList(fqName)} already exists with uuid: ${existing.uuid}`);
      const parent = this.resolveParent(type, schema, body, fqName);
      let uuid: string = randomUUID();
      if (body.uuid != null) {
        if (typeof body.uuid !== "string" || !isUuid(body.uuid)) throw new TfError(400, `Invalid UUID format: ${String(body.uuid)}`);
        const taken = this.t.get(body.uuid);
        if (taken) throw new TfError(409, `${body.uuid} already exists with fq_name: ${pyList(taken.fq_name)}`);
        uuid = body.uuid;
      }
      const refs = this.resolveRefs(schema, body, "create", type);
      const props = this.initialProps(schema, body, fqName);
      this.beforeCreate(type, uuid, props, refs);
      this.t.insert({ uuid, type, fq_name: fqName, parent_type: parent?.type ?? null, parent_uuid: parent?.uuid ?? null, props });
      for (const [field, list] of refs) this.t.setRefs(uuid, field, list);
      this.emit({ op: "create", type, uuid });
      return this.render(this.t.get(uuid)!, { ...opts, excludeBackRefs: true, excludeChildren: true });
    });
  }

  read(type: string, uuid: string, opts: ReadOptions = {}): TfObject {
    this.schema(type);
    return this.render(this.mustGet(type, uuid), opts);
  }

  /** Like read, but undefined instead of 404 (for in-process callers). */
  find(type: string, uuid: string, opts: ReadOptions = {}): TfObject | undefined {
    const row = this.t.get(uuid);
    return row && row.type === type ? this.render(row, opts) : undefined;
  }

  update(type: string, uuid: string, patch: unknown): TfObject {
    const schema = this.schema(type);
    return this.transaction(() => {
      const row = this.mustGet(type, uuid);
      if (!isObject(patch)) throw new TfError(400, `Bad Request, body of a ${type} update must be a JSON object`);
      this.checkFields(type, schema, patch, "update");
      if (patch.uuid != null && patch.uuid !== uuid) throw new TfError(400, `Bad Request, uuid ${String(patch.uuid)} in the body does not match ${uuid}`);
      if (patch.fq_name != null && !deepEqual(patch.fq_name, row.fq_name)) {
        throw new TfError(400, `Bad Request, fq_name cannot be changed from ${pyList(row.fq_name)}`);
      }
      const refs = this.resolveRefs(schema, patch, "update", type);
      const props = { ...row.props };
      for (const [k, v] of Object.entries(patch)) {
        if (!Object.hasOwn(schema.props, k)) continue;
        if (v === null) delete props[k];
        else if (k === "id_perms" || k === "perms2") props[k] = { ...(props[k] as object), ...(v as object) };
        else props[k] = v;
      }
      this.beforeUpdate(row, props, refs);
      if (isObject(props.id_perms)) props.id_perms = { ...props.id_perms, last_modified: now() };
      this.t.updateProps(uuid, props);
      for (const [field, list] of refs) this.t.setRefs(uuid, field, list);
      this.emit({ op: "update", type, uuid });
      return this.render(this.t.get(uuid)!, { excludeBackRefs: true, excludeChildren: true });
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
      if (type === "virtual-network") this.t.freeVnId(uuid);
      if (type === "instance-ip") this.t.releaseIpsOf(uuid);
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
      rows = rows.filter((r) => Object.entries(q.filters!).every(([k, values]) => values.some((v) => deepEqual(fieldOf(r, k), v))));
    }
    if (q.count) return { count: rows.length };
    const opts: ReadOptions = { fields: q.fields ?? [], excludeHrefs: q.excludeHrefs, baseUrl: q.baseUrl };
    if (q.detail) return rows.map((r) => this.render(r, opts));
    return rows.map((r) => {
      const out: TfObject = { uuid: r.uuid, fq_name: r.fq_name };
      if (!q.excludeHrefs) out.href = `${q.baseUrl ?? DEFAULT_BASE_URL}/${type}/${r.uuid}`;
      if (q.fields?.length) {
        const full = this.render(r, opts);
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
      if (field !== "annotations" && !(row.type === "virtual-machine-interface" && field === "virtual_machine_interface_bindings")) {
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

  // ---- validation ---------------------------------------------------------------------------

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

  /** Unknown fields and mistyped property or reference values: 400 naming the field. */
  private checkFields(type: string, schema: TypeSchema, body: Record<string, unknown>, op: "create" | "update"): void {
    const derived = new Set([...backRefFields(type).keys(), ...childFields(type).keys()]);
    for (const [k, v] of Object.entries(body)) {
      if (ENVELOPE.has(k) || derived.has(k)) continue;
      const spec = Object.hasOwn(schema.props, k) ? schema.props[k] : undefined;
      if (spec) {
        const problem = checkValue(spec, v, k);
        if (problem) throw new TfError(400, `Bad property in ${op}: Error validating property ${problem}`);
        continue;
      }
      if (!Object.hasOwn(schema.refs, k)) throw new TfError(400, `Bad property in ${op}: unknown field '${k}' for ${type}`);
      if (v === null) continue;
      if (!Array.isArray(v)) throw new TfError(400, `Bad reference in ${op}: ${k} must be a list of {"to": [...], "uuid": ..., "attr": ...}`);
      const attrSpec = schema.refAttrs?.[k];
      for (const [i, ref] of v.entries()) {
        if (!isObject(ref)) throw new TfError(400, `Bad reference in ${op}: ${k}[${i}] must be an object`);
        if (ref.uuid == null && !Array.isArray(ref.to)) throw new TfError(400, `Bad reference in ${op}: ${k}[${i}] needs "uuid" or "to"`);
        const problem = attrSpec ? checkValue(attrSpec, ref.attr, `${k}[${i}].attr`) : undefined;
        if (problem) throw new TfError(400, `Bad reference in ${op}: Error validating reference ${problem}`);
      }
    }
  }

  private resolveParent(type: string, schema: TypeSchema, body: Record<string, unknown>, fq: string[]): ObjectRow | undefined {
    let parentType = typeof body.parent_type === "string" ? body.parent_type : undefined;
    if (parentType === CONFIG_ROOT) parentType = undefined;
    if (parentType !== undefined && !schema.parents.includes(parentType)) {
      throw new TfError(400, `Invalid parent type: ${parentType}. Allowed types: ${pyList(schema.parents)}`);
    }
    const rooted = schema.parents.length === 1 && schema.parents[0] === CONFIG_ROOT;
    if (parentType === undefined && (rooted || (schema.parents.includes(CONFIG_ROOT) && fq.length === 1))) {
      if (fq.length !== 1) throw new TfError(400, `Invalid fq-name of an object with no parent: ${pyList(fq)}`);
      return undefined;
    }
    if (fq.length < 2) throw new TfError(400, `Invalid fq-name for object with parent_type ${parentType ?? schema.parents[0]}: ${pyList(fq)}`);
    const parentFq = fq.slice(0, -1);
    const candidates = parentType !== undefined ? [parentType] : schema.parents.filter((p) => p !== CONFIG_ROOT);
    for (const p of candidates) {
      const row = this.t.byFqName(p, parentFq);
      if (row) return row;
    }
    if (candidates.length > 1) throw new TfError(400, `Missing parent type: None. Allowed types: ${pyList(schema.parents)}`);
    throw new TfError(400, `Parent ${pyList(parentFq)} type ${candidates[0]} does not exist`);
  }

  private resolveRefs(schema: TypeSchema, body: Record<string, unknown>, op: "create" | "update", type: string): Map<string, ResolvedRef[]> {
    const out = new Map<string, ResolvedRef[]>();
    for (const [field, targetType] of Object.entries(schema.refs)) {
      if (!(field in body)) continue;
      const list = (body[field] ?? []) as Array<Record<string, unknown>>;
      const resolved: ResolvedRef[] = [];
      for (const ref of list) {
        const target =
          typeof ref.uuid === "string" ? this.t.get(ref.uuid) : Array.isArray(ref.to) ? this.t.byFqName(targetType, ref.to as string[]) : undefined;
        if (!target || target.type !== targetType) {
          throw new TfError(400, op === "create" ? `Unknown reference in resource create ${JSON.stringify(ref)}.` : `Unknown reference in resource update ${type} ${JSON.stringify(ref)}.`);
        }
        const at = resolved.findIndex((r) => r.uuid === target.uuid);
        const entry = { uuid: target.uuid, attr: ref.attr ?? null };
        if (at >= 0) resolved[at] = entry;
        else resolved.push(entry);
      }
      out.set(field, resolved);
    }
    return out;
  }

  private initialProps(schema: TypeSchema, body: Record<string, unknown>, fq: string[]): Record<string, unknown> {
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (Object.hasOwn(schema.props, k) && v !== null) props[k] = v;
    const ts = now();
    const given = isObject(body.id_perms) ? body.id_perms : {};
    props.id_perms = {
      enable: true,
      description: null,
      created: ts,
      creator: null,
      user_visible: true,
      last_modified: ts,
      permissions: { owner: "cloud-admin", owner_access: 7, other_access: 7, group: "cloud-admin-group", group_access: 7 },
      ...given,
    };
    delete (props.id_perms as Record<string, unknown>).uuid;
    props.perms2 = { owner: "cloud-admin", owner_access: 7, global_access: body.is_shared === true ? 7 : 0, share: [], ...(isObject(body.perms2) ? body.perms2 : {}) };
    props.display_name ??= fq[fq.length - 1];
    return props;
  }

  // ---- what the server computes per type ------------------------------------------------------

  private beforeCreate(type: string, uuid: string, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void {
    if (type === "virtual-network") {
      if (props.virtual_network_network_id !== undefined) throw new TfError(403, "Cannot set the virtual network ID");
      const ipams = refs.get("network_ipam_refs");
      if (ipams) this.completeIpamRefs(ipams, []);
      const id = this.t.allocateVnId(uuid, MAX_VN_ID);
      if (id === undefined) throw new TfError(400, "No virtual network id left to allocate");
      props.virtual_network_network_id = id;
    } else if (type === "virtual-machine-interface") {
      if (!refs.get("virtual_network_refs")?.length) throw new TfError(400, "virtual_network_refs is required: a virtual-machine-interface must refer to a virtual network");
      const macs = (props.virtual_machine_interface_mac_addresses as { mac_address?: unknown[] } | undefined)?.mac_address;
      if (!macs || macs.length === 0) props.virtual_machine_interface_mac_addresses = { mac_address: [macFromUuid(uuid)] };
      else this.checkMacs(macs, "create");
    } else if (type === "instance-ip") {
      this.allocateInstanceIp(uuid, props, refs);
    }
  }

  private beforeUpdate(row: ObjectRow, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void {
    if (row.type === "virtual-network") {
      if (props.virtual_network_network_id !== row.props.virtual_network_network_id) throw new TfError(403, "Cannot update the virtual network ID");
      const ipams = refs.get("network_ipam_refs");
      if (ipams) {
        const before = this.t.refs(row.uuid).filter((r) => r.field === "network_ipam_refs");
        this.completeIpamRefs(ipams, before.map((r) => (r.attr ?? {}) as VnSubnets));
        const remaining = new Set(subnetsOf(ipams.map((r) => (r.attr ?? {}) as VnSubnets)).map((s) => s.name));
        for (const gone of subnetsOf(before.map((r) => (r.attr ?? {}) as VnSubnets)).filter((s) => !remaining.has(s.name))) {
          const used = this.t.anyIpIn(row.uuid, gone.net.network, gone.net.broadcast);
          if (used !== undefined) throw new TfError(409, `Cannot Delete IP Block, IP(${formatIpv4(used)}) is in use`);
        }
      }
    } else if (row.type === "virtual-machine-interface") {
      const before = (row.props.virtual_machine_interface_mac_addresses as { mac_address?: unknown[] } | undefined)?.mac_address;
      const after = (props.virtual_machine_interface_mac_addresses as { mac_address?: unknown[] } | undefined)?.mac_address;
      if (!deepEqual(before, after)) throw new TfError(400, "Cannot change the MAC address of a virtual-machine-interface");
      if (refs.has("virtual_network_refs") && !refs.get("virtual_network_refs")!.length) {
        throw new TfError(400, "virtual_network_refs is required: a virtual-machine-interface must refer to a virtual network");
      }
    } else if (row.type === "instance-ip") {
      if (props.instance_ip_address !== row.props.instance_ip_address) throw new TfError(400, "Instance IP Address can not be changed");
      if (refs.has("virtual_network_refs")) {
        const current = this.t.refs(row.uuid).filter((r) => r.field === "virtual_network_refs").map((r) => r.uuid);
        if (!deepEqual(current, refs.get("virtual_network_refs")!.map((r) => r.uuid))) throw new TfError(400, "The virtual network of an instance-ip can not be changed");
      }
    }
  }

  private checkMacs(macs: unknown[], op: string): void {
    for (const m of macs) {
      const problem = checkMac(m);
      if (problem) throw new TfError(400, `Bad property in ${op}: Error validating property virtual_machine_interface_mac_addresses: ${problem}`);
    }
  }

  private completeIpamRefs(ipams: ResolvedRef[], previous: VnSubnets[]): void {
    const withAttr = ipams.filter((r) => isObject(r.attr));
    const done = completeVnSubnets(withAttr.map((r) => r.attr as VnSubnets), previous);
    withAttr.forEach((r, i) => (r.attr = done[i]));
  }

  private allocateInstanceIp(uuid: string, props: Record<string, unknown>, refs: Map<string, ResolvedRef[]>): void {
    const vnRef = refs.get("virtual_network_refs")?.[0];
    if (!vnRef) throw new TfError(400, "virtual_network_refs is required: the lab allocates instance-ip addresses from a virtual network");
    if (props.instance_ip_family === "v6") throw new TfError(400, "IPv6 instance-ip addresses are not supported by the lab");
    const vn = this.t.get(vnRef.uuid)!;
    const attrs = this.t.refs(vn.uuid).filter((r) => r.field === "network_ipam_refs").map((r) => (r.attr ?? {}) as VnSubnets);
    const vmPort = (refs.get("virtual_machine_interface_refs") ?? []).some((r) => this.t.refs(r.uuid).some((x) => x.field === "virtual_machine_refs"));
    const requested = props.instance_ip_address as string | undefined;
    const alloc = allocateAddress(this.t, {
      vnUuid: vn.uuid,
      vnFqName: vn.fq_name,
      subnets: subnetsOf(attrs),
      owner: uuid,
      requested,
      subnetUuid: props.subnet_uuid as string | undefined,
      vmPort,
    });
    props.instance_ip_address = alloc.address;
    props.instance_ip_family ??= "v4";
    props.subnet_uuid = alloc.subnet.uuid;
    props.instance_ip_subnet = { ip_prefix: alloc.subnet.raw.subnet!.ip_prefix, ip_prefix_len: alloc.subnet.raw.subnet!.ip_prefix_len };
  }

  // ---- rendering ------------------------------------------------------------------------------

  private render(row: ObjectRow, opts: ReadOptions): TfObject {
    const base = opts.baseUrl ?? DEFAULT_BASE_URL;
    const hrefs = !opts.excludeHrefs;
    const href = (type: string, uuid: string) => `${base}/${type}/${uuid}`;
    const link = (r: { uuid: string; type: string; fq_name: string[] }, attr?: unknown) => {
      const l: Record<string, unknown> = { to: r.fq_name, uuid: r.uuid };
      if (attr !== undefined) l.attr = attr;
      if (hrefs) l.href = href(r.type, r.uuid);
      return l;
    };
    const o: TfObject = { uuid: row.uuid, name: row.fq_name[row.fq_name.length - 1], fq_name: row.fq_name };
    if (row.parent_type && row.parent_uuid) {
      o.parent_type = row.parent_type;
      o.parent_uuid = row.parent_uuid;
      if (hrefs) o.parent_href = href(row.parent_type, row.parent_uuid);
    }
    if (hrefs) o.href = href(row.type, row.uuid);
    Object.assign(o, structuredClone(row.props));
    o.id_perms = { ...(o.id_perms as object), uuid: uuidHalves(row.uuid) };
    o.annotations ??= { key_value_pair: [] };
    const refs: RefRow[] = this.t.refs(row.uuid);
    for (const r of refs) ((o[r.field] ??= []) as unknown[]).push(link(r, r.attr));
    const wanted = opts.fields ? new Set(opts.fields) : undefined;
    if (wanted ? wanted.size > 0 : !opts.excludeBackRefs) {
      for (const r of this.t.backRefs(row.uuid)) {
        const field = `${underscored(r.type)}_back_refs`;
        if (wanted && !wanted.has(field)) continue;
        ((o[field] ??= []) as unknown[]).push(link(r, r.attr));
      }
    }
    if (wanted ? wanted.size > 0 : !opts.excludeChildren) {
      for (const c of this.t.children(row.uuid)) {
        const field = `${underscored(c.type)}s`;
        if (wanted && !wanted.has(field)) continue;
        ((o[field] ??= []) as unknown[]).push(link(c));
      }
    }
    return o;
  }

  // ---- bookkeeping -----------------------------------------------------------------------------

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

  private seed(nodes: Array<{ name: string; ip: string }>): void {
    this.transaction(() => {
      const ensure = (type: string, fq: string[], props: Record<string, unknown> = {}, parentType?: string) =>
        this.t.byFqName(type, fq) ?? this.t.get(this.create(type, { fq_name: fq, ...(parentType ? { parent_type: parentType } : {}), ...props }).uuid)!;
      ensure("domain", ["default-domain"]);
      ensure("project", ["default-domain", "default-project"]);
      ensure("network-ipam", ["default-domain", "default-project", "default-network-ipam"]);
      ensure("global-system-config", ["default-global-system-config"], { autonomous_system: 64512 });
      ensure("project", ["default-domain", "admin"]);
      for (const n of nodes) {
        const vr = ensure("virtual-router", ["default-global-system-config", n.name], { virtual_router_ip_address: n.ip });
        if (vr.props.virtual_router_ip_address !== n.ip) this.update("virtual-router", vr.uuid, { virtual_router_ip_address: n.ip });
      }
    });
  }
}

