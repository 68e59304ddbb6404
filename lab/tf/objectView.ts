// A stored object as TF's API shows it: envelope, properties, refs {to, uuid, attr, href},
// <type>_back_refs and children <type>s, with id_perms.uuid in TF's two 64-bit halves.
import { underscored } from "./schema.ts";
import type { ObjectRow, TfTables } from "./tables.ts";

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

export const DEFAULT_BASE_URL = "http://127.0.0.1:8082";

const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

function uuidHalves(uuid: string): { uuid_mslong: unknown; uuid_lslong: unknown } {
  const hex = uuid.replace(/-/g, "");
  return { uuid_mslong: rawJson(BigInt(`0x${hex.slice(0, 16)}`).toString()), uuid_lslong: rawJson(BigInt(`0x${hex.slice(16)}`).toString()) };
}

export function renderObject(t: TfTables, row: ObjectRow, opts: ReadOptions): TfObject {
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
  for (const r of t.refs(row.uuid)) ((o[r.field] ??= []) as unknown[]).push(link(r, r.attr));
  const wanted = opts.fields ? new Set(opts.fields) : undefined;
  if (wanted ? wanted.size > 0 : !opts.excludeBackRefs) {
    for (const r of t.backRefs(row.uuid)) {
      const field = `${underscored(r.type)}_back_refs`;
      if (wanted && !wanted.has(field)) continue;
      ((o[field] ??= []) as unknown[]).push(link(r, r.attr));
    }
  }
  if (wanted ? wanted.size > 0 : !opts.excludeChildren) {
    for (const c of t.children(row.uuid)) {
      const field = `${underscored(c.type)}s`;
      if (wanted && !wanted.has(field)) continue;
      ((o[field] ??= []) as unknown[]).push(link(c));
    }
  }
  return o;
}
