// NSM's client annotation, `networkservicemesh.io: kernel://red/nsm-1,kernel://blue?app=web`:
// comma-separated NSM URLs as NSM's nsurl reads them: the scheme is the mechanism, the host the
// network service, the path the interface name in the pod, the query the request's labels. The
// admission webhook copies the value into the injected containers' NSM_NETWORK_SERVICES.
import { checkIfName, checkK8sName } from "../../lib/validate/names.ts";

export const NSM_ANNOTATION = "networkservicemesh.io";
/** The env var cmd-nsc-init and cmd-nsc read the annotation's URLs from. */
export const NSM_NETWORK_SERVICES_ENV = "NSM_NETWORK_SERVICES";

/** The mechanisms a URL may name: the kernel interface is the only one the forwarders here build. */
const MECHANISMS = ["kernel"] as const;

export interface NsmUrl {
  mechanism: (typeof MECHANISMS)[number];
  /** Network service name, e.g. "red". */
  service: string;
  /** Interface name in the pod; the forwarder picks nsm-<n> when there is none. */
  interfaceName?: string;
  labels: Record<string, string>;
}

/** A bad annotation, naming the entry (1-based) and what is wrong with it. */
export class NsmAnnotationError extends Error {
  readonly entry: number;
  readonly text: string;
  constructor(entry: number, text: string, problem: string) {
    super(`${NSM_ANNOTATION} entry ${entry} (${JSON.stringify(text)}): ${problem}`);
    this.name = "NsmAnnotationError";
    this.entry = entry;
    this.text = text;
  }
}

const LABEL_KEY = /^[A-Za-z0-9_.\/-]{1,63}$/;

function parseEntry(text: string, entry: number): NsmUrl {
  const fail = (problem: string) => new NsmAnnotationError(entry, text, problem);
  if (text === "") throw fail("is empty; entries are kernel://<service>[/<interface>][?label=value], separated by commas");
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1];
  if (!scheme) throw fail("is not a URL like kernel://<service>[/<interface>][?label=value]");
  if (!(MECHANISMS as readonly string[]).includes(scheme)) throw fail(`mechanism "${scheme}" is not supported; use ${MECHANISMS.map((m) => `${m}://`).join(", ")}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail("is not a valid URL");
  }
  if (url.username || url.password || url.port || url.hash) throw fail("has parts an NSM URL does not have (user, port or #fragment)");
  const badService = checkK8sName(url.hostname);
  if (badService) throw fail(`network service: ${badService}`);
  const path = url.pathname.replace(/^\//, "");
  let interfaceName: string | undefined;
  if (path !== "") {
    if (path.includes("/")) throw fail(`interface name "${path}" may not contain "/"`);
    const badIf = checkIfName(path);
    if (badIf) throw fail(badIf);
    if (path === "eth0" || path === "lo") throw fail(`interface name "${path}" is the pod's own`);
    interfaceName = path;
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (!LABEL_KEY.test(k)) throw fail(`label "${k}": keys are 1..63 characters from letters, digits, '_', '.', '/', '-'`);
    if (k in labels) throw fail(`label "${k}" is given twice`);
    labels[k] = v;
  }
  return { mechanism: scheme as NsmUrl["mechanism"], service: url.hostname, ...(interfaceName ? { interfaceName } : {}), labels };
}

/** The annotation's URLs, in order; throws NsmAnnotationError naming the first bad entry. */
export function parseNsmAnnotation(value: string): NsmUrl[] {
  const entries = value.split(",").map((e) => e.trim());
  const urls = entries.map((e, i) => parseEntry(e, i + 1));
  const seen = new Map<string, number>();
  urls.forEach((u, i) => {
    if (!u.interfaceName) return;
    const first = seen.get(u.interfaceName);
    if (first !== undefined) throw new NsmAnnotationError(i + 1, entries[i]!, `interface name "${u.interfaceName}" is also entry ${first}'s`);
    seen.set(u.interfaceName, i + 1);
  });
  return urls;
}

/** The problem with an annotation value, or undefined when it is good. */
export function checkNsmAnnotation(value: unknown): string | undefined {
  if (typeof value !== "string") return `${NSM_ANNOTATION} must be a string, got ${JSON.stringify(value)}`;
  try {
    parseNsmAnnotation(value);
    return undefined;
  } catch (e) {
    if (e instanceof NsmAnnotationError) return e.message;
    throw e;
  }
}

/** The annotation value for these URLs; throws NsmAnnotationError as the parser would read it. */
export function formatNsmAnnotation(urls: Array<Omit<NsmUrl, "mechanism" | "labels"> & { mechanism?: NsmUrl["mechanism"]; labels?: Record<string, string> }>): string {
  if (urls.length === 0) throw new Error(`an ${NSM_ANNOTATION} annotation needs at least one network service`);
  const value = urls
    .map((u) => {
      const query = Object.entries(u.labels ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join("&");
      return `${u.mechanism ?? "kernel"}://${u.service}${u.interfaceName !== undefined ? `/${u.interfaceName}` : ""}${query ? `?${query}` : ""}`;
    })
    .join(",");
  parseNsmAnnotation(value);
  return value;
}

/** The NSM connection id of the annotation's entry `index` (0-based) in the pod `podUid`: fixed, so
 *  an init that runs again (a kubelet restart) refreshes the same connections instead of adding more. */
export const annotationConnectionId = (podUid: string, index: number): string => `nsc-${podUid}-${index + 1}`;

/** The connection label that marks a connection as the annotation's (its value: the entry, 1-based). */
export const ANNOTATION_ENTRY_LABEL = "nsmAnnotationEntry";

/** Whether a connection id is one an annotation's nsc-init requested (annotationConnectionId). */
export const isAnnotationConnectionId = (id: string): boolean => /^nsc-.+-\d+$/.test(id);

/** Who holds a pod interface, from the alias NSM's forwarders give it ("nsm:<connection id>"). */
export function aliasOwner(alias: string | undefined): { connectionId: string; annotationEntry?: number } | undefined {
  const id = alias?.startsWith("nsm:") ? alias.slice(4) : undefined;
  if (id === undefined) return undefined;
  return isAnnotationConnectionId(id) ? { connectionId: id, annotationEntry: Number(/-(\d+)$/.exec(id)![1]) } : { connectionId: id };
}

/** The owner of a pod interface in words, for errors. */
export function interfaceOwner(alias: string | undefined): string {
  const owner = aliasOwner(alias);
  if (!owner) return alias ? `something outside NSM (alias "${alias}")` : "something outside NSM (no alias)";
  return owner.annotationEntry !== undefined
    ? `connection ${owner.connectionId}, entry ${owner.annotationEntry} of the pod's ${NSM_ANNOTATION} annotation`
    : `connection ${owner.connectionId}`;
}
