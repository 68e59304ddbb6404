// Helpers every provider's check and diff share: the engine's "not known yet" sentinel, the
// failure list check returns, and structural equality for diffs.
import type * as pulumi from "@pulumi/pulumi";

/** What the engine puts in a property whose value is not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export const isUnknown = (v: unknown): boolean => v === UNKNOWN;

/** True when v or anything inside it is unknown. */
export function hasUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (v && typeof v === "object") return Object.values(v).some(hasUnknown);
  return false;
}

/** Collects check failures; each names the property path ("subnets[1].gateway"). */
export class Failures {
  readonly list: pulumi.dynamic.CheckFailure[] = [];
  add(property: string, reason: string | undefined): void {
    if (reason !== undefined) this.list.push({ property, reason });
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
}

/** A string input: undefined when absent, the sentinel when unknown; a failure otherwise. */
export function optionalString(f: Failures, property: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") {
    f.add(property, `must be a string, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

export function requiredString(f: Failures, property: string, v: unknown): string | undefined {
  if (v === undefined || v === null || v === "") {
    f.add(property, "is required");
    return undefined;
  }
  return optionalString(f, property, v);
}

/** Deep equality of JSON values, ignoring keys whose value is undefined. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameJson(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** The keys among `keys` whose values differ between olds and news (unknown news count as different). */
export function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((k) => isUnknown(news[k]) || hasUnknown(news[k]) || !sameJson(olds[k] ?? undefined, news[k] ?? undefined));
}

/** Drops undefined values so outputs and inputs stay free of nulls the engine would keep. */
export function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Outputs carry the inputs they were made from (as check produced them, without the engine's
 * `__provider`), because the dynamic provider's read() only sees outputs: with them, refresh can
 * hand the engine inputs in the program's own shape (only the keys the user set, in the user's
 * form) and change a value only where the real object drifted.
 */
export const RECORDED_INPUTS = "__inputs";
/** The engine's input key holding the provider text (`pulumi.dynamic.Resource` sets it). */
export const PROVIDER_KEY = "__provider";

export function withRecordedInputs<T extends object>(outs: T, inputs: object): T {
  const { [PROVIDER_KEY]: _provider, [RECORDED_INPUTS]: _older, ...own } = inputs as Record<string, unknown>;
  return { ...outs, [RECORDED_INPUTS]: own };
}

/** The inputs the outputs were made from (every state tfmesh writes records them; bare outputs otherwise). */
export function inputsOf(props: Record<string, unknown>): Record<string, unknown> {
  return recordedInputs(props) ?? props;
}

/** The inputs the outputs were made from; undefined for outputs that did not record them. */
export function recordedInputs(props: Record<string, unknown>): Record<string, unknown> | undefined {
  const r = props[RECORDED_INPUTS];
  return r && typeof r === "object" && !Array.isArray(r) ? (r as Record<string, unknown>) : undefined;
}
