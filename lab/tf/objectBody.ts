// What a create or update body may carry, checked against the type's schema with TF's messages;
// what its parent and references resolve to; and the properties the object is stored with
// (id_perms and perms2 kept as TF keeps them).
import { TfError, pyList } from "./errors.ts";
import { isObject } from "./jsonValues.ts";
import { CONFIG_ROOT, backRefFields, childFields } from "./schema.ts";
import type { TypeSchema } from "./schema.ts";
import type { ObjectRow, TfTables } from "./tables.ts";
import { checkValue } from "./valueSpec.ts";

export interface ResolvedRef {
  uuid: string;
  attr: unknown;
}

type Props = Record<string, unknown>;

const ENVELOPE = new Set(["uuid", "fq_name", "parent_type", "parent_uuid", "parent_href", "href", "name"]);

/** TF timestamps: UTC ISO without zone, microseconds. */
const now = () => new Date().toISOString().replace("Z", "000");

/** Unknown fields and mistyped property or reference values: 400 naming the field. */
export function checkFields(type: string, schema: TypeSchema, body: Props, op: "create" | "update"): void {
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

/** The parent named by parent_type and the fq_name without its last element; undefined for a root object. */
export function resolveParent(t: TfTables, schema: TypeSchema, body: Props, fq: string[]): ObjectRow | undefined {
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
    const row = t.byFqName(p, parentFq);
    if (row) return row;
  }
  if (candidates.length > 1) throw new TfError(400, `Missing parent type: None. Allowed types: ${pyList(schema.parents)}`);
  throw new TfError(400, `Parent ${pyList(parentFq)} type ${candidates[0]} does not exist`);
}

/** The ref fields the body carries, each resolved to target uuids (by uuid or fq_name); a target named twice keeps the last attr. */
export function resolveRefs(t: TfTables, schema: TypeSchema, body: Props, op: "create" | "update", type: string): Map<string, ResolvedRef[]> {
  const out = new Map<string, ResolvedRef[]>();
  for (const [field, targetType] of Object.entries(schema.refs)) {
    if (!(field in body)) continue;
    const list = (body[field] ?? []) as Array<Props>;
    const resolved: ResolvedRef[] = [];
    for (const ref of list) {
      const target = typeof ref.uuid === "string" ? t.get(ref.uuid) : Array.isArray(ref.to) ? t.byFqName(targetType, ref.to as string[]) : undefined;
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

/** The properties a new object is stored with: those of the body, and TF's id_perms, perms2 and display_name. */
export function initialProps(schema: TypeSchema, body: Props, fq: string[]): Props {
  const props: Props = {};
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
  delete (props.id_perms as Props).uuid;
  props.perms2 = { owner: "cloud-admin", owner_access: 7, global_access: body.is_shared === true ? 7 : 0, share: [], ...(isObject(body.perms2) ? body.perms2 : {}) };
  props.display_name ??= fq[fq.length - 1];
  return props;
}

/** The stored properties with an update's applied: null unsets, id_perms and perms2 merge, others replace. */
export function patchedProps(schema: TypeSchema, stored: Props, patch: Props): Props {
  const props = { ...stored };
  for (const [k, v] of Object.entries(patch)) {
    if (!Object.hasOwn(schema.props, k)) continue;
    if (v === null) delete props[k];
    else if (k === "id_perms" || k === "perms2") props[k] = { ...(props[k] as object), ...(v as object) };
    else props[k] = v;
  }
  return props;
}

/** Stamps id_perms.last_modified, as every update does. */
export function markModified(props: Props): void {
  if (isObject(props.id_perms)) props.id_perms = { ...props.id_perms, last_modified: now() };
}
