// UUIDs in the canonical lower-case 8-4-4-4-12 form TF and OpenStack use in URLs.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

const LOOSE_UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Whether an OpenStack id-or-name argument is an id: any case, dashes optional, as the APIs accept. */
export const looksLikeUuid = (s: string): boolean => LOOSE_UUID.test(s);

export function checkUuid(value: unknown): string | undefined {
  return isUuid(value) ? undefined : `expected a lower-case UUID such as "3f0c2a1e-...", got ${JSON.stringify(value) ?? String(value)}`;
}
