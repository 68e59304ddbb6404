// Typed client of the Tungsten Fabric config API ("VNC API", contrail-api). It speaks the wire
// format described in shared/reference/tungsten-fabric.md, so it works unchanged against a real
// TF cluster and against the lab. TF answers errors as plain text; they surface as HttpError
// with the server's text in `serverMessage`.
import { HttpClient, isStatus, orUndefinedOn404 } from "../lib/http/client.ts";
import { formatFqName } from "../lib/validate/fqname.ts";

/** A TF fully qualified name as an array: ["default-domain", "admin", "red"]. */
export type FqName = string[];

/** A reference as TF returns and accepts it (`<type>_refs` entries). */
export interface TfRef<Attr = unknown> {
  to: FqName;
  uuid?: string;
  href?: string;
  attr?: Attr | null;
}

/** Any TF object: the common fields plus whatever the type carries (`virtual_network_refs`, ...). */
export interface TfObject {
  uuid: string;
  fq_name: FqName;
  name?: string;
  parent_type?: string;
  parent_uuid?: string;
  parent_href?: string;
  href?: string;
  display_name?: string;
  [field: string]: unknown;
}

/** What TF answers on create. */
export interface TfCreated {
  uuid: string;
  fq_name: FqName;
  href?: string;
  name?: string;
  parent_type?: string;
  parent_uuid?: string;
  parent_href?: string;
}

/** One entry of a non-detailed list. */
export interface TfListItem {
  uuid: string;
  fq_name: FqName;
  href?: string;
}

export interface TfReadOptions {
  /** Only these fields (plus the common ones). */
  fields?: string[];
  excludeBackRefs?: boolean;
  excludeChildren?: boolean;
  excludeHrefs?: boolean;
}

export interface TfListQuery {
  parentId?: string | string[];
  parentFqName?: FqName;
  parentType?: string;
  backRefId?: string | string[];
  objUuids?: string[];
  fqNames?: FqName[];
  fields?: string[];
  /** Exact-match filters on fields, e.g. `{ virtual_machine_interface_device_owner: "compute:nova" }`. */
  filters?: Record<string, unknown>;
}

export interface TfRefUpdate {
  operation: "ADD" | "DELETE";
  /** Type of the object holding the ref, e.g. "virtual-router". */
  type: string;
  uuid: string;
  /** Type of the referred object, e.g. "virtual-machine". */
  refType: string;
  refUuid?: string;
  refFqName?: FqName;
  attr?: unknown;
}

/** Returns the Keystone token to send, or undefined when the server runs without auth. */
export type TfTokenProvider = () => string | undefined | Promise<string | undefined>;

/** The X-Auth-Token header from a token provider, for every request (none when it gives none). */
export function tokenHeaders(token: TfTokenProvider): () => Promise<Record<string, string>> {
  return async (): Promise<Record<string, string>> => {
    const t = await token();
    return t ? { "x-auth-token": t } : {};
  };
}

export interface TfClientOptions {
  /** e.g. "http://127.0.0.1:8082" */
  baseUrl: string;
  /** Called before every request; its token goes into X-Auth-Token. */
  token?: TfTokenProvider;
  timeoutMs?: number;
  retries?: number;
  /** Appended to connection errors (e.g. how to start the lab). */
  unreachableHint?: string;
}

/** "default-domain:admin:red" from ["default-domain", "admin", "red"]. */
/** `/virtual-networks` (TF appends a plain "s", even to "network-policy"). */
export const collectionPath = (type: string): string => `/${type}s`;

/** `/virtual-network/<uuid>` */
export const itemPath = (type: string, uuid: string): string => `/${type}/${encodeURIComponent(uuid)}`;

const csv = (v: string | string[] | undefined): string | undefined => (v === undefined ? undefined : Array.isArray(v) ? v.join(",") : v);

function listQuery(q: TfListQuery): Record<string, string | undefined> {
  return {
    parent_id: csv(q.parentId),
    parent_fq_name_str: q.parentFqName ? formatFqName(q.parentFqName) : undefined,
    parent_type: q.parentType,
    back_ref_id: csv(q.backRefId),
    obj_uuids: csv(q.objUuids),
    fq_names: q.fqNames ? q.fqNames.map(formatFqName).join(",") : undefined,
    fields: csv(q.fields),
    filters: q.filters
      ? Object.entries(q.filters)
          .map(([k, v]) => `${k}==${JSON.stringify(v)}`)
          .join(",")
      : undefined,
  };
}

export class TfClient {
  readonly http: HttpClient;

  constructor(opts: TfClientOptions) {
    const token = opts.token;
    this.http = new HttpClient({
      ...definedOnly({ timeoutMs: opts.timeoutMs, retries: opts.retries, unreachableHint: opts.unreachableHint }),
      baseUrl: opts.baseUrl,
      ...(token ? { headers: tokenHeaders(token) } : {}),
    });
  }

  /** POST /<type>s; `body` is the inner object (fq_name or parent + name, refs, fields). */
  async create(type: string, body: Record<string, unknown>): Promise<TfCreated> {
    const res = await this.http.post<Record<string, TfCreated>>(collectionPath(type), { [type]: body });
    return unwrap(res.body, type);
  }

  /** GET /<type>/<uuid>; throws HttpError 404 when absent. */
  async read<T extends TfObject = TfObject>(type: string, uuid: string, opts: TfReadOptions = {}): Promise<T> {
    const res = await this.http.get<Record<string, T>>(itemPath(type, uuid), {
      query: {
        fields: csv(opts.fields),
        exclude_back_refs: opts.excludeBackRefs || undefined,
        exclude_children: opts.excludeChildren || undefined,
        exclude_hrefs: opts.excludeHrefs || undefined,
      },
    });
    return unwrap(res.body, type);
  }

  /** Reads an object by fq_name; undefined when no such object exists. */
  async readByFqName<T extends TfObject = TfObject>(type: string, fq: FqName, opts?: TfReadOptions): Promise<T | undefined> {
    const uuid = await this.lookupId(type, fq);
    if (uuid === undefined) return undefined;
    return orUndefinedOn404(this.read<T>(type, uuid, opts)); // also when deleted between the two calls
  }

  /** PUT /<type>/<uuid> with only the changed fields. */
  async update(type: string, uuid: string, patch: Record<string, unknown>): Promise<{ uuid: string; href?: string }> {
    const res = await this.http.put<Record<string, { uuid: string; href?: string }>>(itemPath(type, uuid), { [type]: patch });
    return unwrap(res.body, type);
  }

  /** DELETE /<type>/<uuid>; throws HttpError 404 when absent, 409 while children or refs exist. */
  async delete(type: string, uuid: string): Promise<void> {
    await this.http.delete(itemPath(type, uuid));
  }

  /** Like delete, but an absent object is fine. Returns whether something was deleted. */
  async deleteIfExists(type: string, uuid: string): Promise<boolean> {
    try {
      await this.delete(type, uuid);
      return true;
    } catch (err) {
      if (isStatus(err, 404)) return false;
      throw err;
    }
  }

  /** GET /<type>s: uuid, fq_name, href of each match. */
  async list(type: string, query: TfListQuery = {}): Promise<TfListItem[]> {
    const res = await this.http.get<Record<string, TfListItem[]>>(collectionPath(type), { query: listQuery(query) });
    return unwrap(res.body, `${type}s`);
  }

  /** GET /<type>s?detail=true: the full objects. */
  async listDetail<T extends TfObject = TfObject>(type: string, query: TfListQuery = {}): Promise<T[]> {
    const res = await this.http.get<Record<string, Array<Record<string, T>>>>(collectionPath(type), {
      query: { ...listQuery(query), detail: "true" },
    });
    return unwrap(res.body, `${type}s`).map((item) => unwrap(item, type));
  }

  /** GET /<type>s?count=true */
  async count(type: string, query: TfListQuery = {}): Promise<number> {
    const res = await this.http.get<Record<string, { count: number }>>(collectionPath(type), {
      query: { ...listQuery(query), count: "true" },
    });
    return unwrap(res.body, `${type}s`).count;
  }

  /** POST /fqname-to-id; throws HttpError 404 (`Name [...] not found`) when absent. */
  async fqNameToId(type: string, fq: FqName): Promise<string> {
    const res = await this.http.post<{ uuid: string }>("/fqname-to-id", { type, fq_name: fq }, { retryPost: true });
    return res.body.uuid;
  }

  /** fqNameToId, with undefined instead of a 404. */
  async lookupId(type: string, fq: FqName): Promise<string | undefined> {
    return orUndefinedOn404(this.fqNameToId(type, fq));
  }

  /** POST /id-to-fqname; throws HttpError 404 when absent. */
  async idToFqName(uuid: string): Promise<{ fq_name: FqName; type: string }> {
    const res = await this.http.post<{ fq_name: FqName; type: string }>("/id-to-fqname", { uuid }, { retryPost: true });
    return res.body;
  }

  /** POST /ref-update: adds (or replaces the attr of) or removes one reference. Returns the holder's uuid. */
  async refUpdate(req: TfRefUpdate): Promise<string> {
    const body: Record<string, unknown> = {
      operation: req.operation,
      type: req.type,
      uuid: req.uuid,
      "ref-type": req.refType,
      attr: req.attr ?? null,
    };
    if (req.refUuid !== undefined) body["ref-uuid"] = req.refUuid;
    if (req.refFqName !== undefined) body["ref-fq-name"] = req.refFqName;
    // ADD replaces and DELETE of a present ref is final, so a retry cannot do harm.
    const res = await this.http.post<{ uuid: string }>("/ref-update", body, { retryPost: true });
    return res.body.uuid;
  }
}

/** Drops undefined values so the HTTP client's defaults stay in force. */
export function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function unwrap<T>(body: Record<string, T> | undefined, key: string): T {
  const inner = body?.[key];
  if (inner === undefined) throw new Error(`TF answer lacks "${key}": ${JSON.stringify(body).slice(0, 300)}`);
  return inner;
}
