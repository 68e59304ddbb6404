import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isKubeconfigContent, loadKubeconfig, parseKubeconfig } from "../../wire/kubeconfig.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

const yamlConfig = (user: string, extra = "") => `apiVersion: v1
kind: Config
current-context: lab
clusters:
  - name: lab-cluster
    cluster:
      server: https://127.0.0.1:6443/
      certificate-authority-data: ${b64("CA PEM")}
contexts:
  - name: lab
    context:
      cluster: lab-cluster
      user: admin
      namespace: apps
  - name: other
    context:
      cluster: other-cluster
      user: admin
users:
  - name: admin
    user:
${user}
${extra}`;

describe("kubeconfig", () => {
  it("takes the current context's server, CA and token from YAML content", () => {
    const k = parseKubeconfig(yamlConfig("      token: abc"));
    expect(k.options).toEqual({ server: "https://127.0.0.1:6443", ca: "CA PEM", token: "abc" });
    expect(k.context).toBe("lab");
    expect(k.namespace).toBe("apps");
  });

  it("reads JSON content (the lab's kubeconfig shape)", () => {
    const json = JSON.stringify({
      "current-context": "c",
      clusters: [{ name: "k", cluster: { server: "https://10.0.0.1:6443", "insecure-skip-tls-verify": true } }],
      contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
      users: [{ name: "u", user: { token: "t" } }],
    });
    expect(isKubeconfigContent(json)).toBe(true);
    expect(loadKubeconfig(json).options).toEqual({ server: "https://10.0.0.1:6443", insecureSkipTlsVerify: true, token: "t" });
  });

  it("reads a file, resolving the CA, client certificate, key and token files against its directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
    writeFileSync(join(dir, "ca.crt"), "CA FILE");
    writeFileSync(join(dir, "client.crt"), "CERT FILE");
    writeFileSync(join(dir, "client.key"), "KEY FILE");
    const path = join(dir, "config");
    writeFileSync(
      path,
      `current-context: c
clusters: [{ name: k, cluster: { server: "https://k:6443", certificate-authority: ca.crt } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { client-certificate: client.crt, client-key: ${join(dir, "client.key")} } }]
`,
    );
    expect(isKubeconfigContent(path)).toBe(false);
    const k = loadKubeconfig(path);
    expect(k.options).toEqual({ server: "https://k:6443", ca: "CA FILE", clientCert: { cert: "CERT FILE", key: "KEY FILE" } });
    expect(k.origin).toBe(path);
  });

  it("reads a tokenFile, trimmed", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
    writeFileSync(join(dir, "token"), "sa-token\n");
    const k = parseKubeconfig(yamlConfig(`      tokenFile: token`), { baseDir: dir });
    expect(k.options.token).toBe("sa-token");
  });

  it("takes client certificate and key data", () => {
    const k = parseKubeconfig(yamlConfig(`      client-certificate-data: ${b64("CERT")}\n      client-key-data: ${b64("KEY")}`));
    expect(k.options.clientCert).toEqual({ cert: "CERT", key: "KEY" });
    expect(k.options.token).toBeUndefined();
  });

  it("uses a named context instead of current-context", () => {
    const extra = `  - name: other-cluster2\n    cluster: { server: "https://x:1" }`;
    const text = yamlConfig("      token: abc").replace("clusters:\n", `clusters:\n  - name: other-cluster\n    cluster: { server: "https://other:6443" }\n`) + extra;
    expect(parseKubeconfig(text, { context: "other" }).options.server).toBe("https://other:6443");
  });

  it("fails naming the user entry for exec and auth-provider users", () => {
    expect(() => parseKubeconfig(yamlConfig("      exec: { command: aws, apiVersion: client.authentication.k8s.io/v1 }"))).toThrow(
      /users\[admin\]\.user\.exec: credential plugins and auth providers are not run.*token, tokenFile, or client-certificate/,
    );
    expect(() => parseKubeconfig(yamlConfig("      auth-provider: { name: gcp }"))).toThrow(/users\[admin\]\.user\.auth-provider/);
  });

  it("fails for a certificate without its key, and for a user without credentials", () => {
    expect(() => parseKubeconfig(yamlConfig(`      client-certificate-data: ${b64("CERT")}`))).toThrow(/users\[admin\]\.user has a client certificate without its key/);
    expect(() => parseKubeconfig(yamlConfig("      username: bob"))).toThrow(/users\[admin\]\.user has no credentials tfmesh can use/);
  });

  it("fails naming what is missing: current-context, the context, the cluster, the file", () => {
    expect(() => parseKubeconfig("clusters: []\ncontexts: []\n")).toThrow(/has no current-context/);
    expect(() => parseKubeconfig(yamlConfig("      token: a"), { context: "nope" })).toThrow(/no contexts entry named "nope" \(it has "lab", "other"\)/);
    expect(() => parseKubeconfig(yamlConfig("      token: a"), { context: "other" })).toThrow(/no clusters entry named "other-cluster" \(it has "lab-cluster"\)/);
    expect(() => loadKubeconfig("/nonexistent/kubeconfig", { origin: "KUBECONFIG" })).toThrow(/KUBECONFIG: cannot read kubeconfig \/nonexistent\/kubeconfig/);
    expect(() => parseKubeconfig("[1, 2]\n")).toThrow(/must be a mapping/);
    expect(() => parseKubeconfig(yamlConfig("      token: a").replace("https://127.0.0.1:6443/", "127.0.0.1:6443"))).toThrow(/clusters\[lab-cluster\]\.cluster\.server must be an http\(s\) URL/);
  });
});
