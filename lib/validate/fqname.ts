// TF fully qualified names: ["default-domain", "admin", "red"] on the wire, "default-domain:admin:red"
// for people. One parser so every caller reports the same problems.
import { ValidationError } from "./errors.ts";

export interface FqNameOptions {
  /** Required number of elements (3 for a virtual network). */
  length?: number;
}

function elementsOf(value: unknown): string[] | string {
  if (typeof value === "string") {
    if (value.trim() === "") return "fq_name is empty";
    return value.split(":");
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "fq_name is an empty list";
    const bad = value.findIndex((e) => typeof e !== "string");
    if (bad >= 0) return `fq_name element ${bad + 1} is not a string: ${JSON.stringify(value[bad])}`;
    return value as string[];
  }
  return `fq_name must be a "a:b:c" string or a list of strings, got ${JSON.stringify(value) ?? String(value)}`;
}

export function checkFqName(value: unknown, opts: FqNameOptions = {}): string | undefined {
  const els = elementsOf(value);
  if (typeof els === "string") return els;
  const shown = Array.isArray(value) ? JSON.stringify(value) : `"${String(value)}"`;
  const empty = els.findIndex((e) => e === "");
  if (empty >= 0) return `fq_name ${shown} has an empty element at position ${empty + 1}`;
  if (Array.isArray(value)) {
    const colon = els.findIndex((e) => e.includes(":"));
    if (colon >= 0) return `fq_name element "${els[colon]}" contains ":"`;
  }
  if (opts.length !== undefined && els.length !== opts.length) {
    return `fq_name ${shown} has ${els.length} element(s); expected ${opts.length} (e.g. "default-domain:admin:red")`;
  }
  return undefined;
}

/** "default-domain:admin:red" (or an array) -> ["default-domain", "admin", "red"]; throws ValidationError. */
export function parseFqName(value: unknown, opts: FqNameOptions = {}, field = "fq_name"): string[] {
  const reason = checkFqName(value, opts);
  if (reason !== undefined) throw new ValidationError(field, reason);
  return typeof value === "string" ? value.split(":") : [...(value as string[])];
}

export function formatFqName(fq: readonly string[]): string {
  return fq.join(":");
}
