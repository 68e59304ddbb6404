// The control plane's files in the state dir: <stateDir>/kube/ (etcd data, the API server's
// self-signed serving certificate, the service-account key pair, the admin token) and the admin
// kubeconfig next to endpoints.json. Secrets are made once and kept, so a restart keeps tokens,
// service-account tokens and kubeconfigs valid.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface KubeFiles {
  dir: string;
  etcdData: string;
  /** --cert-dir of the API server: it writes apiserver.crt (leaf + its CA) and apiserver.key there. */
  certDir: string;
  servingCert: string;
  servingKey: string;
  saKey: string;
  saPub: string;
  tokenFile: string;
  kubeconfig: string;
  logs: string;
}

export function kubeFiles(stateDir: string): KubeFiles {
  const dir = path.join(stateDir, "kube");
  return {
    dir,
    etcdData: path.join(dir, "etcd"),
    certDir: path.join(dir, "pki"),
    servingCert: path.join(dir, "pki", "apiserver.crt"),
    servingKey: path.join(dir, "pki", "apiserver.key"),
    saKey: path.join(dir, "sa.key"),
    saPub: path.join(dir, "sa.pub"),
    tokenFile: path.join(dir, "tokens.csv"),
    kubeconfig: path.join(stateDir, "kubeconfig"),
    logs: path.join(dir, "logs"),
  };
}

const ADMIN_USER = "tfmesh-admin";

/** Creates what is missing (dirs, the service-account RSA key pair, the admin token); returns the token. */
export function prepareFiles(f: KubeFiles): { token: string } {
  for (const d of [f.dir, f.etcdData, f.certDir, f.logs]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(f.saKey) || !fs.existsSync(f.saPub)) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    fs.writeFileSync(f.saPub, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o600 });
    fs.writeFileSync(f.saKey, privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
  }
  if (!fs.existsSync(f.tokenFile)) {
    // token,user,uid,"group": the admin is in system:masters, which RBAC lets do everything.
    fs.writeFileSync(f.tokenFile, `${randomBytes(24).toString("base64url")},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
  }
  const token = fs.readFileSync(f.tokenFile, "utf8").split(",")[0]!.trim();
  return { token };
}

/** The instance's admin kubeconfig, once its API server has written it; else an error saying to start the lab. */
export function existingKubeconfig(stateDir: string, instance: string): string {
  const { kubeconfig } = kubeFiles(stateDir);
  if (!fs.existsSync(kubeconfig)) throw new Error(`${kubeconfig} does not exist yet: is lab "${instance}" up?`);
  return kubeconfig;
}

/** The PEM the API server's certificate chains to (its self-signed CA, written after its first start). */
export function servingCa(f: KubeFiles): string {
  return fs.readFileSync(f.servingCert, "utf8");
}

/** An admin kubeconfig (JSON is YAML) with the CA and token inline, so it works when copied. */
export function writeKubeconfig(f: KubeFiles, opts: { instance: string; server: string; token: string }): void {
  const name = `tfmesh-${opts.instance}`;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: opts.server, "certificate-authority-data": Buffer.from(servingCa(f)).toString("base64") } }],
    users: [{ name: ADMIN_USER, user: { token: opts.token } }],
    contexts: [{ name, context: { cluster: name, user: ADMIN_USER, namespace: "default" } }],
    "current-context": name,
    preferences: {},
  };
  const tmp = `${f.kubeconfig}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, f.kubeconfig);
}
