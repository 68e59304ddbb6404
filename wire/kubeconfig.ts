// A kubeconfig, as kubectl and @pulumi/kubernetes read one, turned into KubernetesClient options:
// the current context (or a named one), its cluster's server and CA, its user's bearer token or
// client certificate. File paths inside resolve against the kubeconfig's own directory, as
// kubectl does. exec plugins and auth providers are not run: they fail naming the user entry.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { KubernetesClientOptions } from "./kubernetes.ts";

export interface Kubeconfig {
  /** What the client needs: server, CA, token or client certificate. */
  options: KubernetesClientOptions;
  /** The context used. */
  context: string;
  /** The context's namespace, when it names one. */
  namespace: string | undefined;
  /** Where it came from, for errors: the file path, or "kubeconfig content". */
  origin: string;
}

export interface LoadOptions {
  /** A context other than current-context. */
  context?: string;
  /** How the caller names where `source` came from (e.g. "stack config kubernetes:kubeconfig"). */
  origin?: string;
}

type Entry<K extends string> = { name?: unknown } & { [key in K]?: unknown };

/** Content rather than a path: JSON, or YAML spanning lines. */
export function isKubeconfigContent(source: string): boolean {
  const s = source.trim();
  return s.startsWith("{") || s.includes("\n");
}

/** Loads a kubeconfig given as a path or as its content (YAML or JSON). */
export function loadKubeconfig(source: string, opts: LoadOptions = {}): Kubeconfig {
  if (isKubeconfigContent(source)) return parseKubeconfig(source, { ...opts, origin: opts.origin ?? "kubeconfig content" });
  let text: string;
  try {
    text = readFileSync(source, "utf8");
  } catch (err) {
    throw new Error(`${opts.origin ? `${opts.origin}: ` : ""}cannot read kubeconfig ${source}: ${(err as Error).message}`);
  }
  return parseKubeconfig(text, { ...opts, origin: opts.origin ? `${opts.origin} (${source})` : source, baseDir: dirname(resolve(source)) });
}

/** Parses kubeconfig text; relative paths inside resolve against baseDir (default: the working directory). */
export function parseKubeconfig(text: string, opts: LoadOptions & { baseDir?: string } = {}): Kubeconfig {
  const origin = opts.origin ?? "kubeconfig content";
  const fail = (what: string): never => {
    throw new Error(`kubeconfig ${origin}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    fail(`is neither YAML nor JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) fail("must be a mapping with clusters, users and contexts");
  const cfg = doc as Record<string, unknown>;
  const contextName = opts.context ?? (typeof cfg["current-context"] === "string" ? (cfg["current-context"] as string) : "");
  if (!contextName) fail("has no current-context; set one (kubectl config use-context) or name a context");
  const ctx = field(named(cfg, "contexts", "context", contextName, fail), "context", `contexts[${contextName}]`, fail);
  const clusterName = str(ctx.cluster, `contexts[${contextName}].context.cluster`, fail);
  const userName = ctx.user === undefined ? undefined : str(ctx.user, `contexts[${contextName}].context.user`, fail);
  const cluster = field(named(cfg, "clusters", "cluster", clusterName, fail), "cluster", `clusters[${clusterName}]`, fail);
  const baseDir = opts.baseDir ?? process.cwd();
  const readPath = (p: unknown, key: string): string => {
    const path = str(p, key, fail);
    const full = isAbsolute(path) ? path : resolve(baseDir, path);
    try {
      return readFileSync(full, "utf8");
    } catch (err) {
      return fail(`${key}: cannot read ${full}: ${(err as Error).message}`);
    }
  };
  const data = (d: unknown, key: string): string => Buffer.from(str(d, key, fail), "base64").toString("utf8");
  const pem = (entry: Record<string, unknown>, dataKey: string, fileKey: string, where: string): string | undefined =>
    entry[dataKey] !== undefined ? data(entry[dataKey], `${where}.${dataKey}`) : entry[fileKey] !== undefined ? readPath(entry[fileKey], `${where}.${fileKey}`) : undefined;

  const clusterWhere = `clusters[${clusterName}].cluster`;
  const server = str(cluster.server, `${clusterWhere}.server`, fail);
  if (!/^https?:\/\//.test(server)) fail(`${clusterWhere}.server must be an http(s) URL, got ${JSON.stringify(server)}`);
  const options: KubernetesClientOptions = { server: server.replace(/\/+$/, "") };
  const ca = pem(cluster, "certificate-authority-data", "certificate-authority", clusterWhere);
  if (ca !== undefined) options.ca = ca;
  if (cluster["insecure-skip-tls-verify"] === true) options.insecureSkipTlsVerify = true;

  if (userName !== undefined) {
    const user = field(named(cfg, "users", "user", userName, fail), "user", `users[${userName}]`, fail);
    const where = `users[${userName}].user`;
    for (const unsupported of ["exec", "auth-provider"]) {
      if (user[unsupported] !== undefined) {
        fail(
          `${where}.${unsupported}: credential plugins and auth providers are not run by tfmesh; ` +
            `give that user a token, tokenFile, or client-certificate(-data) and client-key(-data) (e.g. a service account token)`,
        );
      }
    }
    if (user.token !== undefined) options.token = str(user.token, `${where}.token`, fail);
    else if (user.tokenFile !== undefined) options.token = readPath(user.tokenFile, `${where}.tokenFile`).trim();
    const cert = pem(user, "client-certificate-data", "client-certificate", where);
    const key = pem(user, "client-key-data", "client-key", where);
    if ((cert === undefined) !== (key === undefined)) fail(`${where} has a client ${cert === undefined ? "key" : "certificate"} without its ${cert === undefined ? "certificate" : "key"}; give both`);
    if (cert !== undefined && key !== undefined) options.clientCert = { cert, key };
    if (options.token === undefined && options.clientCert === undefined) {
      fail(`${where} has no credentials tfmesh can use; supported: token, tokenFile, or client-certificate(-data) with client-key(-data)`);
    }
  }
  const namespace = typeof ctx.namespace === "string" && ctx.namespace ? ctx.namespace : undefined;
  return { options, context: contextName, namespace, origin };
}

function str(v: unknown, key: string, fail: (what: string) => never): string {
  if (typeof v !== "string" || v === "") return fail(`${key} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function named<K extends string>(cfg: Record<string, unknown>, list: string, _key: K, name: string, fail: (what: string) => never): Entry<K> {
  const entries = cfg[list];
  if (!Array.isArray(entries)) return fail(`has no ${list} list (looking for "${name}")`);
  const found = entries.find((e) => e && typeof e === "object" && (e as Entry<K>).name === name) as Entry<K> | undefined;
  if (!found) {
    const names = entries.map((e) => (e as Entry<K>)?.name).filter((n) => typeof n === "string");
    return fail(`has no ${list} entry named "${name}" (it has ${names.length ? names.map((n) => `"${n}"`).join(", ") : "none"})`);
  }
  return found;
}

function field<K extends string>(entry: Entry<K>, key: K, where: string, fail: (what: string) => never): Record<string, unknown> {
  const v = entry[key];
  if (!v || typeof v !== "object" || Array.isArray(v)) return fail(`${where}.${key} must be a mapping`);
  return v as Record<string, unknown>;
}
