// The identity a create is idempotent by. A dynamic provider's check never sees the URN, so every
// resource class passes its own (`__owner`, computed in the program with pulumi.createUrn) and
// check keeps it. Each create writes it on what it makes before anything else can fail (Nova server
// metadata, TF annotations, the pod's annotations, an NSM connection id derived from it), so a
// create retried after a crash on either side finds what the first attempt made and takes it over
// instead of making a second one. And a create that fails after its first write reports the
// object to the engine (an error carrying the id) instead of dropping it.
import { createHash } from "node:crypto";
import { PROVIDER_KEY, isUnknown, withRecordedInputs } from "./inputs.ts";
import type { Failures } from "./inputs.ts";

/** Input key: the resource's URN, set by the resource class in the program. */
export const OWNER = "__owner";

/** Where the owner is written: TF annotations key, pod annotation, NSM connection label. */
export const OWNER_KEY = "tfmesh-owner";

/** Nova metadata of servers tfmesh boots: the owner's URN, and whether its create finished. */
export const OWNER_METADATA = OWNER_KEY;
export const STATE_METADATA = "tfmesh-state";
/** A create booted the server and has not finished: no resource tracks it yet. */
export const CREATING = "creating";
/** The create that booted it finished: a resource tracks it. */
export const CREATED = "created";

/** The owner as Nova metadata holds it (values are at most 255 characters). */
export function ownerMetadataValue(owner: string): string {
  return owner.length <= 255 ? owner : `sha256:${ownerDigest(owner, 64)}`;
}

/** Validates `__owner` (optional: state and callers from before it existed have none). */
export function checkOwner(f: Failures, news: Record<string, unknown>): string | undefined {
  const v = news[OWNER];
  if (v === undefined || v === null) return undefined;
  if (isUnknown(v)) return v as string;
  if (typeof v !== "string" || !/^urn:pulumi:[^:]+::[^:]+::.+::.+$/s.test(v)) {
    f.add(OWNER, `must be the resource's URN (urn:pulumi:<stack>::<project>::<type>::<name>), got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

/** The owner of these inputs, when they have a known one. */
export function ownerOf(inputs: Record<string, unknown>): string | undefined {
  const v = inputs[OWNER];
  return typeof v === "string" && !isUnknown(v) ? v : undefined;
}

/** "urn:pulumi:<stack>::<project>::": what every URN of one stack starts with. */
export function stackPrefix(owner: string): string {
  const m = /^(urn:pulumi:[^:]+::[^:]+::)/.exec(owner);
  return m ? m[1]! : owner;
}

/** Whether two owners belong to the same stack. */
export const sameStack = (a: string, b: string): boolean => stackPrefix(a) === stackPrefix(b);

/** Hex digest of the owner: stable across processes and retries. */
export function ownerDigest(owner: string, hexDigits: number): string {
  return createHash("sha256").update(owner).digest("hex").slice(0, hexDigits);
}

/** A name-based UUID (RFC 9562 version 5 layout, SHA-1 of a tfmesh namespace and the owner). */
export function ownerUuid(owner: string, purpose: string): string {
  const h = createHash("sha1").update(`tfmesh:${purpose}:`).update(owner).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * A create that failed after it made something: the engine records `id` with `properties` (the
 * resource then has an initialization error; the next `up` updates it, refresh reads it, destroy
 * deletes it) instead of forgetting it. The dynamic provider host turns an error with an `id` into
 * Pulumi's ErrorResourceInitFailed.
 */
export class PartialCreateError extends Error {
  readonly id: string;
  readonly properties: Record<string, unknown>;
  readonly reasons: string[];
  constructor(message: string, id: string, properties: Record<string, unknown>) {
    super(message);
    this.name = "PartialCreateError";
    this.id = id;
    this.properties = properties;
    this.reasons = [message];
  }
}

/**
 * The error for a create that made `id` and then failed: its properties are `outs` with the
 * recorded inputs and the provider text (the engine stores them as they are, and read and delete
 * find the provider through them).
 */
export function partialCreate(err: unknown, id: string, outs: object, inputs: Record<string, unknown>): PartialCreateError {
  const message = (err as Error)?.message ?? String(err);
  const properties: Record<string, unknown> = { ...withRecordedInputs(outs, inputs) };
  if (inputs[PROVIDER_KEY] !== undefined) properties[PROVIDER_KEY] = inputs[PROVIDER_KEY];
  return new PartialCreateError(`${message} (the stack keeps ${id}: the next \`pulumi up\` continues it, \`pulumi destroy\` deletes it)`, id, properties);
}
