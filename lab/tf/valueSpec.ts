// A tiny structural type checker for TF property values, with messages in TF's style
// ("<field>: integer value expected instead of x") and the full path of the offending field.

export type ValueSpec =
  | "string"
  | "integer"
  | "boolean"
  | "any"
  | { t: "string"; enum: readonly string[] }
  | { t: "integer"; min: number; max: number }
  | { t: "list"; of: ValueSpec }
  | { t: "object"; name: string; fields?: Readonly<Record<string, ValueSpec>> };

const show = (v: unknown) => (typeof v === "string" ? v : (JSON.stringify(v) ?? String(v)));

/** Returns a description of the first problem in `value` against `spec`, or undefined. `null` is always accepted (unset). */
export function checkValue(spec: ValueSpec, value: unknown, path: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (spec === "any") return undefined;
  if (spec === "string") return typeof value === "string" ? undefined : `${path}: string value expected instead of ${show(value)}`;
  if (spec === "boolean") return typeof value === "boolean" ? undefined : `${path}: true/false expected instead of ${show(value)}`;
  if (spec === "integer") return Number.isInteger(value) ? undefined : `${path}: integer value expected instead of ${show(value)}`;
  switch (spec.t) {
    case "string":
      if (typeof value !== "string") return `${path}: string value expected instead of ${show(value)}`;
      return spec.enum.includes(value) ? undefined : `${path}: value must be one of ${JSON.stringify(spec.enum)}, got ${show(value)}`;
    case "integer":
      if (!Number.isInteger(value)) return `${path}: integer value expected instead of ${show(value)}`;
      return (value as number) >= spec.min && (value as number) <= spec.max
        ? undefined
        : `${path}: value must be between ${spec.min} and ${spec.max}, got ${show(value)}`;
    case "list": {
      if (!Array.isArray(value)) return `${path}: must be a list, received ${show(value)}`;
      for (const [i, item] of value.entries()) {
        const r = checkValue(spec.of, item, `${path}[${i}]`);
        if (r) return r;
      }
      return undefined;
    }
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) return `${path}: ${spec.name} object expected instead of ${show(value)}`;
      if (!spec.fields) return undefined;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const fs = Object.hasOwn(spec.fields, k) ? spec.fields[k] : undefined;
        if (!fs) return `${path}: ${spec.name} does not have field ${k}`;
        const r = checkValue(fs, v, `${path}.${k}`);
        if (r) return r;
      }
      return undefined;
    }
  }
}
