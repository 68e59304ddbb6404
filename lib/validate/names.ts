// Names that end up in the kernel, Kubernetes or TF: each check returns what is wrong (or
// undefined); each assert throws ValidationError naming the field.
import { ValidationError } from "./errors.ts";

const show = (v: unknown) => JSON.stringify(v) ?? String(v);
const IFNAME_CHARS = /^[A-Za-z0-9_.-]+$/;

/** Linux interface names: 1..15 characters (IFNAMSIZ - 1) from [A-Za-z0-9_.-], not "." or "..". */
export function checkIfName(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return `interface name must be a non-empty string, got ${show(value)}`;
  if (value.length > 15) return `interface name "${value}" is ${value.length} characters; Linux allows at most 15`;
  if (!IFNAME_CHARS.test(value)) return `interface name "${value}" may only contain letters, digits, "_", "." and "-"`;
  if (value === "." || value === "..") return `interface name "${value}" is reserved`;
  return undefined;
}

/** Network namespace names (files under /var/run/netns): 1..64 characters from [A-Za-z0-9_.-]. */
export function checkNetnsName(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return `netns name must be a non-empty string, got ${show(value)}`;
  if (value.length > 64) return `netns name "${value}" is longer than 64 characters`;
  if (!IFNAME_CHARS.test(value)) return `netns name "${value}" may only contain letters, digits, "_", "." and "-"`;
  if (value === "." || value === "..") return `netns name "${value}" is reserved`;
  return undefined;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Kubernetes DNS-1123 label (pod names here, namespaces): lower-case alphanumerics and "-", 1..63, alphanumeric at both ends. */
export function checkK8sName(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return `name must be a non-empty string, got ${show(value)}`;
  if (value.length > 63) return `name "${value}" is ${value.length} characters; a DNS-1123 label has at most 63`;
  if (!DNS1123_LABEL.test(value)) {
    return `name "${value}" is not a DNS-1123 label: use lower-case letters, digits and "-", starting and ending with a letter or digit`;
  }
  return undefined;
}

// Characters XML 1.0 forbids (TF's api-server refuses names containing them).
// eslint-disable-next-line no-control-regex
const ILLEGAL_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** TF / OpenStack resource names: 1..255 characters, no ":" (the fq_name separator), no control characters. */
export function checkResourceName(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return `name must be a non-empty string, got ${show(value)}`;
  if (value.length > 255) return `name is ${value.length} characters; at most 255 are allowed`;
  if (value.includes(":")) return `name "${value}" contains ":", which separates fq_name elements`;
  if (ILLEGAL_XML.test(value)) return `name ${show(value)} contains control characters`;
  return undefined;
}

function asserter(check: (v: unknown) => string | undefined, defaultField: string) {
  return (value: unknown, field = defaultField): string => {
    const reason = check(value);
    if (reason !== undefined) throw new ValidationError(field, reason);
    return value as string;
  };
}

export const assertIfName = asserter(checkIfName, "interface name");
export const assertNetnsName = asserter(checkNetnsName, "netns");
