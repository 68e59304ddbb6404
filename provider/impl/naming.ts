// Physical names: the user's name when given, else the logical name plus a short suffix. The
// suffix comes from the resource's URN (`__owner`), so a create retried after a crash asks for the
// name the first attempt used and finds what it made; without an owner (callers from before it
// existed) it is random. Decided once in check and then kept from the previous inputs, so a name
// never changes on an ordinary update.
import { randomBytes } from "node:crypto";
import { ownerDigest, ownerOf } from "./identity.ts";
import { isUnknown } from "./inputs.ts";
import type { Failures } from "./inputs.ts";

export const LOGICAL_NAME = "__logicalName";

export interface NamingRule {
  /** Returns what is wrong with a name, or undefined. */
  check: (name: unknown) => string | undefined;
  /** Turns a logical name into something `check` accepts (before the suffix is added). */
  sanitize?: (logical: string) => string;
  maxLength?: number;
}

const SUFFIX_HEX = 7;

export const randomSuffix = (): string => randomBytes(4).toString("hex").slice(0, SUFFIX_HEX);

/** Lower-case DNS-1123 label form of a logical name ("Red_Pod" -> "red-pod"). */
export const dnsLabel = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");

/**
 * The physical name for `news`: news.name, else olds.name, else "<logical>-<suffix>" (the suffix
 * from the owner's URN when there is one).
 * An invalid name is reported on `name` and returned as is (check fails anyway).
 */
export function decideName(f: Failures, olds: Record<string, unknown>, news: Record<string, unknown>, rule: NamingRule): unknown {
  const given = news.name;
  if (isUnknown(given)) return given;
  if (given !== undefined && given !== null && given !== "") {
    f.add("name", rule.check(given));
    return given;
  }
  if (typeof olds.name === "string" && olds.name !== "") return olds.name;
  const logical = String(news[LOGICAL_NAME] ?? "resource");
  const max = rule.maxLength ?? 255;
  const base = (rule.sanitize ? rule.sanitize(logical) : logical).slice(0, max - SUFFIX_HEX - 1).replace(/-+$/, "");
  const owner = ownerOf(news);
  const name = `${base}-${owner !== undefined ? ownerDigest(owner, SUFFIX_HEX) : randomSuffix()}`;
  const reason = rule.check(name);
  if (reason !== undefined) f.add("name", `cannot derive a name from the resource name "${logical}" (${reason}); set name explicitly`);
  return name;
}
