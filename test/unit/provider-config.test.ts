// Where the provider finds endpoints and credentials: stack config, then environment, then the
// running lab's endpoints.json, then the lab's default ports.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endpointsFilePath, resolveSettings } from "../../wire/settings.ts";

let dir: string;
let labFile: string;

const lab = {
  instance: "default",
  prefix: "tfm",
  tf: "http://127.0.0.1:18082",
  keystone: "http://127.0.0.1:15000/v3",
  nsm: "http://127.0.0.1:15001",
  pods: "http://127.0.0.1:15002",
  agents: { "k8s-1": "http://127.0.0.1:19093" },
  credentials: { username: "admin", password: "lab-secret", project: "admin", domain: "Default" },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tfmesh-config-"));
  await mkdir(join(dir, "lab", "default"), { recursive: true });
  labFile = join(dir, "lab", "default", "endpoints.json");
  await writeFile(labFile, JSON.stringify(lab));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const configOf = (values: Record<string, string>) => (key: string) => values[key];

describe("resolveSettings", () => {
  it("reads the running lab's endpoints.json under TFMESH_HOME when nothing else is set", () => {
    const s = resolveSettings({ env: { TFMESH_HOME: dir } });
    expect(s.tfApiUrl).toBe(lab.tf);
    expect(s.nsmUrl).toBe(lab.nsm);
    expect(s.podsUrl).toBe(lab.pods);
    expect(s.agents).toEqual(lab.agents);
    expect(s.openstack).toMatchObject({ authUrl: lab.keystone, userName: "admin", password: "lab-secret", tenantName: "admin", userDomainName: "Default" });
    expect(s.endpointsFile).toBe(labFile);
  });

  it("TFMESH_ENDPOINTS names the file directly (a test lab instance)", () => {
    const s = resolveSettings({ env: { TFMESH_HOME: "/nonexistent", TFMESH_ENDPOINTS: labFile } });
    expect(s.tfApiUrl).toBe(lab.tf);
  });

  it("environment variables win over the lab file", () => {
    const s = resolveSettings({
      env: { TFMESH_HOME: dir, OS_AUTH_URL: "https://keystone.example:5000/v3", OS_PASSWORD: "env-secret", OS_PROJECT_NAME: "demo", TFMESH_TF_API_URL: "http://tf.example:8082" },
    });
    expect(s.openstack.authUrl).toBe("https://keystone.example:5000/v3");
    expect(s.openstack.password).toBe("env-secret");
    expect(s.openstack.tenantName).toBe("demo");
    expect(s.tfApiUrl).toBe("http://tf.example:8082");
    expect(s.nsmUrl).toBe(lab.nsm);
  });

  it("stack config (openstack:* and tfmesh:*) wins over the environment", () => {
    const s = resolveSettings({
      env: { TFMESH_HOME: dir, OS_PASSWORD: "env-secret", TFMESH_NSM_URL: "http://env-nsm" },
      config: configOf({
        "openstack:password": "config-secret",
        "openstack:userName": "alice",
        "openstack:region": "RegionTwo",
        "tfmesh:nsmUrl": "http://config-nsm",
        "tfmesh:agents": JSON.stringify({ "node-a": "http://agent-a:9091" }),
      }),
    });
    expect(s.openstack.password).toBe("config-secret");
    expect(s.openstack.userName).toBe("alice");
    expect(s.openstack.region).toBe("RegionTwo");
    expect(s.nsmUrl).toBe("http://config-nsm");
    expect(s.agents).toEqual({ "node-a": "http://agent-a:9091" });
  });

  it("falls back to the lab's default ports, without a password, when no lab file exists", () => {
    const s = resolveSettings({ env: { TFMESH_HOME: join(dir, "empty") } });
    expect(s.tfApiUrl).toBe("http://127.0.0.1:8082");
    expect(s.openstack.authUrl).toBe("http://127.0.0.1:5000/v3");
    expect(s.openstack.password).toBeUndefined();
    expect(s.endpointsFile).toBeUndefined();
  });

  it("rejects a malformed agents map naming the key", () => {
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir }, config: configOf({ "tfmesh:agents": "[1,2]" }) })).toThrow(/tfmesh:agents/);
    expect(() => resolveSettings({ env: { TFMESH_HOME: dir, TFMESH_AGENTS: "nope" } })).toThrow(/TFMESH_AGENTS/);
  });

  it("reports a corrupt endpoints.json with its path", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{ not json");
    expect(() => resolveSettings({ env: { TFMESH_ENDPOINTS: bad } })).toThrow(bad);
  });

  it("picks the instance's folder from tfmesh:labInstance", () => {
    expect(endpointsFilePath({ TFMESH_HOME: "/h" }, configOf({ "tfmesh:labInstance": "ci" }))).toBe("/h/lab/ci/endpoints.json");
  });
});
