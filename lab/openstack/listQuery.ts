// Neutron/Glance style list queries: ?key=value filters (repeat a key for "any of") and ?fields=.
export type Json = Record<string, unknown>;

const PAGING = new Set(["fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "all_tenants"]);

function matches(value: unknown, wanted: string): boolean {
  if (typeof value === "boolean") return String(value) === wanted.toLowerCase();
  if (Array.isArray(value)) return value.some((v) => matches(v, wanted));
  if (value === null || value === undefined) return wanted === "" || wanted.toLowerCase() === "none";
  return String(value) === wanted;
}

/**
 * Keeps the items matching every filter (unknown attributes are ignored, as Neutron did before
 * filter validation) and, with ?fields=, only the requested attributes.
 */
export function filterItems(items: Json[], q: URLSearchParams, custom: Record<string, (item: Json, wanted: string) => boolean> = {}): Json[] {
  const keys = [...new Set([...q.keys()])].filter((k) => !PAGING.has(k));
  const out = items.filter((item) =>
    keys.every((k) => {
      const values = q.getAll(k);
      if (Object.hasOwn(custom, k)) return values.some((v) => custom[k]!(item, v));
      if (!Object.hasOwn(item, k)) return true;
      return values.some((v) => matches(item[k], v));
    }),
  );
  const fields = q.getAll("fields").flatMap((f) => f.split(",")).filter(Boolean);
  if (!fields.length) return out;
  return out.map((item) => Object.fromEntries(fields.filter((f) => Object.hasOwn(item, f)).map((f) => [f, item[f]])));
}
