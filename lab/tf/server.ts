// The TF config API on the wire (contrail-api, port 8082): /<type>s collections, /<type>/<uuid>
// items, the helper actions, and the home page of links vnc_api reads first. Errors are plain text.
import type http from "node:http";
import { ApiError, createJsonServer, objectBody } from "../../lib/http/server.ts";
import type { ApiRequest, ApiResponse, Route } from "../../lib/http/server.ts";
import type { ConfigStore, ListQuery, ReadOptions } from "./configStore.ts";
import { TYPE_NAMES, schemaOf } from "./schema.ts";
import type { KeystoneCheck } from "../keystoneAuth.ts";

export type { TokenValidator } from "../keystoneAuth.ts";

export interface TfServerOptions {
  store: ConfigStore;
  /** The lab's Keystone token check; null disables authentication. */
  auth: KeystoneCheck | null;
  maxBodyBytes?: number;
}

const ACTIONS: Array<{ uri: string; name: string; method: string }> = [
  { uri: "/fqname-to-id", name: "name-to-id", method: "POST" },
  { uri: "/id-to-fqname", name: "id-to-name", method: "POST" },
  { uri: "/ref-update", name: "ref-update", method: "POST" },
  { uri: "/prop-collection-update", name: "prop-collection-update", method: "POST" },
  { uri: "/list-bulk-collection", name: "list-bulk-collection", method: "POST" },
];

const baseUrl = (req: ApiRequest) => `http://${req.headers.host ?? "127.0.0.1:8082"}`;

/** TF treats the mere presence of exclude_* as "true"; we also accept an explicit false. */
function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && v.toLowerCase() !== "false";
}

const truthy = (v: unknown) => v === true || (typeof v === "string" && v.toLowerCase().includes("true"));
const csv = (v: string | null | undefined) => (v ? v.split(",").filter((s) => s !== "") : undefined);

/** "virtual-networks" -> "virtual-network", or a 404 in TF's words. */
function typeOfCollection(collection: string): string {
  const type = collection.endsWith("s") ? collection.slice(0, -1) : collection;
  if (!schemaOf(type)) throw new ApiError(404, `Invalid Contrail resource type:'${type}'`);
  return type;
}

function typeOfItem(type: string): string {
  if (!schemaOf(type)) throw new ApiError(404, `Invalid Contrail resource type:'${type}'`);
  return type;
}

/**
 * vnc_api encodes filters as key==<json>[,key==<json>...]; JSON values may contain commas, so
 * pieces are joined until they parse.
 */
function parseFilters(text: string | null | undefined): Record<string, unknown[]> | undefined {
  if (!text) return undefined;
  const out: Record<string, unknown[]> = {};
  const pieces = text.split(",");
  for (let i = 0; i < pieces.length; i++) {
    const eq = pieces[i]!.indexOf("==");
    if (eq <= 0) throw new ApiError(400, `Invalid filter ${text}`);
    const key = pieces[i]!.slice(0, eq);
    const first = pieces[i]!.slice(eq + 2);
    let value: unknown = first; // a bare word (name==red) counts as a string
    for (let j = i, raw = first; j < pieces.length; j++, raw += `,${pieces[j]}`) {
      try {
        value = JSON.parse(raw);
        i = j;
        break;
      } catch {
        // keep joining: the JSON value may itself contain commas
      }
    }
    (out[key] ??= []).push(value);
  }
  return out;
}

/**
 * The list query both list forms take: `GET /<type>s` from the URL, `POST /list-bulk-collection`
 * from the body. `text` reads a parameter as text, `on` as a switch.
 */
function listQuery(req: ApiRequest, text: (name: string) => string | undefined, on: (name: string) => boolean, excludeHrefs: boolean): ListQuery {
  return {
    parentIds: csv(text("parent_id")),
    backRefIds: csv(text("back_ref_id")),
    objUuids: csv(text("obj_uuids")),
    fqNames: csv(text("fq_names"))?.map((f) => f.split(":")),
    fields: csv(text("fields")),
    detail: on("detail"),
    count: on("count"),
    filters: parseFilters(text("filters")),
    excludeHrefs,
    baseUrl: baseUrl(req),
  };
}

function listResponse(type: string, result: ReturnType<ConfigStore["list"]>, detail: boolean): ApiResponse {
  const key = `${type}s`;
  if (!Array.isArray(result)) return { body: { [key]: result } };
  return { body: { [key]: detail ? result.map((o) => ({ [type]: o })) : result } };
}

export function createTfServer(opts: TfServerOptions): http.Server {
  const { store, auth } = opts;

  const homepage = (req: ApiRequest): ApiResponse => {
    const base = baseUrl(req);
    const links: Array<{ link: Record<string, string> }> = [{ link: { rel: "root", href: `${base}/config-root`, name: "config-root" } }];
    for (const t of TYPE_NAMES) links.push({ link: { rel: "collection", href: `${base}/${t}s`, name: t } });
    for (const t of TYPE_NAMES) links.push({ link: { rel: "resource-base", href: `${base}/${t}`, name: t } });
    for (const a of ACTIONS) links.push({ link: { rel: "action", href: `${base}${a.uri}`, name: a.name, method: a.method } });
    return { body: { href: base, links } };
  };

  const list = (type: string, q: ListQuery) => listResponse(type, store.list(type, q), q.detail === true);

  const routes: Route[] = [
    { method: "GET", pattern: "/", handler: homepage },
    {
      method: "POST",
      pattern: "/fqname-to-id",
      handler: (req) => {
        const b = objectBody(req);
        return { body: { uuid: store.fqNameToId(String(b.type), b.fq_name) } };
      },
    },
    {
      method: "POST",
      pattern: "/id-to-fqname",
      handler: (req) => {
        const b = objectBody(req);
        if (typeof b.uuid !== "string") throw new ApiError(400, "Bad Request: uuid is required");
        return { body: store.idToFqName(b.uuid) };
      },
    },
    { method: "POST", pattern: "/ref-update", handler: (req) => ({ body: store.refUpdate(objectBody(req)) }) },
    {
      method: "POST",
      pattern: "/prop-collection-update",
      handler: (req) => {
        const b = objectBody(req);
        store.propCollectionUpdate(b.uuid, b.updates);
        return { text: "" };
      },
    },
    {
      method: "POST",
      pattern: "/list-bulk-collection",
      handler: (req) => {
        const b = objectBody(req);
        const type = typeOfItem(String(b.type));
        const str = (v: unknown) => (typeof v === "string" ? v : undefined);
        return list(type, listQuery(req, (name) => str(b[name]), (name) => truthy(b[name]), truthy(b.exclude_hrefs)));
      },
    },
    {
      method: "GET",
      pattern: "/:collection",
      handler: (req) => {
        const type = typeOfCollection(req.params.collection!);
        const q = req.query;
        const parentFq = q.get("parent_fq_name_str");
        return list(type, {
          ...listQuery(req, (name) => q.get(name) ?? undefined, (name) => truthy(q.get(name)), flag(q, "exclude_hrefs")),
          parentFqName: parentFq ? parentFq.split(":") : undefined,
          parentType: q.get("parent_type") ?? undefined,
        });
      },
    },
    {
      method: "POST",
      pattern: "/:collection",
      handler: (req) => {
        const type = typeOfCollection(req.params.collection!);
        const body = objectBody(req, type);
        const o = store.create(type, body, { baseUrl: baseUrl(req) });
        const out: Record<string, unknown> = { name: o.name, fq_name: o.fq_name, uuid: o.uuid, href: o.href };
        if (o.parent_type) Object.assign(out, { parent_type: o.parent_type, parent_uuid: o.parent_uuid, parent_href: o.parent_href });
        return { body: { [type]: out } };
      },
    },
    {
      method: "GET",
      pattern: "/:type/:uuid",
      handler: (req) => {
        const type = typeOfItem(req.params.type!);
        const q = req.query;
        const ro: ReadOptions = {
          fields: csv(q.get("fields")),
          excludeBackRefs: flag(q, "exclude_back_refs"),
          excludeChildren: flag(q, "exclude_children"),
          excludeHrefs: flag(q, "exclude_hrefs"),
          baseUrl: baseUrl(req),
        };
        const o = store.read(type, req.params.uuid!, ro);
        const lm = (o.id_perms as { last_modified?: string } | undefined)?.last_modified;
        const headers: Record<string, string> = lm ? { etag: `"${lm}"` } : {};
        return { body: { [type]: o }, headers };
      },
    },
    {
      method: "PUT",
      pattern: "/:type/:uuid",
      handler: (req) => {
        const type = typeOfItem(req.params.type!);
        const uuid = req.params.uuid!;
        // TF answers an empty PUT without touching the object.
        if (req.body === undefined || (typeof req.body === "object" && req.body !== null && (req.body as Record<string, unknown>)[type] == null)) {
          store.read(type, uuid);
          return { body: { [type]: { uuid, href: `${baseUrl(req)}/${type}/${uuid}` } } };
        }
        store.update(type, uuid, objectBody(req, type));
        return { body: { [type]: { uuid, href: `${baseUrl(req)}/${type}/${uuid}` } } };
      },
    },
    {
      method: "DELETE",
      pattern: "/:type/:uuid",
      handler: (req) => {
        const type = typeOfItem(req.params.type!);
        store.delete(type, req.params.uuid!, { baseUrl: baseUrl(req) });
        return { text: "" };
      },
    },
  ];

  return createJsonServer({
    name: "tf-config-api",
    routes,
    maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
    ...(auth ? { before: auth.require } : {}),
    renderError: (err) => ({ status: err.status, text: err.message }),
  });
}
