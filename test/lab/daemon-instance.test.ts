// How a lab instance is resolved and remembered, and how clients find it (endpoints.json).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { endpointsFor, readEndpoints, writeEndpoints } from "../../lab/endpoints.ts";
import {
  DEFAULT_PORTS,
  InstanceConfigError,
  checkInstanceName,
  checkNodeName,
  checkPrefix,
  defaultStateDir,
  labNodes,
  loadInstance,
  resolveInstance,
} from "../../lab/instance.ts";
import { wipeStateDir } from "../../lab/stateFiles.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-instance-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("default instance", () => {
  it("lives in ~/.tfmesh/lab/default unless TFMESH_HOME says otherwise", () => {
    expect(defaultStateDir("default", { HOME: "/home/u" } as NodeJS.ProcessEnv)).toBe(path.join(os.homedir(), ".tfmesh/lab/default"));
    expect(defaultStateDir("default", { TFMESH_HOME: "/srv/tfm" } as NodeJS.ProcessEnv)).toBe("/srv/tfm/lab/default");
  });

  it("uses prefix tfm, the standard ports, two compute and two k8s nodes, keystone auth", async () => {
    const home = tempDir();
    const c = await resolveInstance({}, { create: false, env: { TFMESH_HOME: home } as NodeJS.ProcessEnv });
    expect(c.name).toBe("default");
    expect(c.prefix).toBe("tfm");
    expect(c.stateDir).toBe(path.join(home, "lab", "default"));
    expect(c.ports).toEqual({ tf: 8082, keystone: 5000, nova: 8774, neutron: 9696, glance: 9292, nsm: 5001, nsmGrpc: 5003, lab: 5002, agentBase: 9091, spireServer: 8081 });
    expect(c.computeNodes).toEqual(["compute-1", "compute-2"]);
    expect(c.k8sNodes).toEqual(["k8s-1", "k8s-2"]);
    expect(c.auth).toBe("keystone");
    expect(fs.existsSync(c.stateDir)).toBe(false);
  });

  it("publishes the endpoints the provider expects", async () => {
    const c = await resolveInstance({ stateDir: tempDir() }, { create: false });
    const e = endpointsFor(c);
    expect(e).toMatchObject({
      instance: "default",
      prefix: "tfm",
      tf: "http://127.0.0.1:8082",
      keystone: "http://127.0.0.1:5000/v3",
      nova: "http://127.0.0.1:8774/v2.1",
      neutron: "http://127.0.0.1:9696",
      glance: "http://127.0.0.1:9292",
      nsm: "http://127.0.0.1:5001",
      nsmGrpc: "tcp://127.0.0.1:5003",
      lab: "http://127.0.0.1:5002",
      agents: Object.fromEntries(["compute-1", "compute-2", "k8s-1", "k8s-2"].map((n) => [n, `unix://${c.stateDir}/sock/agent-${n}.sock`])),
      credentials: { username: "admin", project: "admin", domain: "Default" },
    });
  });

  it("numbers nodes compute first: underlay 172.31.0.<10+i>", () => {
    expect(labNodes({ computeNodes: ["compute-1", "compute-2"], k8sNodes: ["k8s-1", "k8s-2"] })).toEqual([
      { name: "compute-1", kind: "compute", index: 0, ip: "172.31.0.10" },
      { name: "compute-2", kind: "compute", index: 1, ip: "172.31.0.11" },
      { name: "k8s-1", kind: "k8s", index: 2, ip: "172.31.0.12" },
      { name: "k8s-2", kind: "k8s", index: 3, ip: "172.31.0.13" },
    ]);
  });
});

describe("a stored instance", () => {
  it("keeps its password and auto-picked ports across resolutions", async () => {
    const stateDir = tempDir();
    const first = await resolveInstance({ name: "keep-me", stateDir, ports: "auto" });
    expect(first.credentials.password.length).toBeGreaterThanOrEqual(16);
    expect(first.ports.tf).not.toBe(DEFAULT_PORTS.tf);
    expect(first.ports.agentBase).toBe(first.ports.lab + 1);
    const again = await resolveInstance({ stateDir });
    expect(again).toEqual(first);
    expect(fs.statSync(path.join(stateDir, "instance.json")).mode & 0o077).toBe(0);
  });

  it("gives different instances different passwords and prefixes", async () => {
    const a = await resolveInstance({ name: "a", stateDir: tempDir(), ports: "auto" });
    const b = await resolveInstance({ name: "b", stateDir: tempDir(), ports: "auto" });
    expect(a.credentials.password).not.toBe(b.credentials.password);
    expect(a.prefix).not.toBe(b.prefix);
    expect(checkPrefix(a.prefix)).toBeUndefined();
  });

  it("refuses options that contradict what is stored instead of ignoring them", async () => {
    const stateDir = tempDir();
    await resolveInstance({ name: "x1", prefix: "xa", stateDir, ports: "auto" });
    await expect(resolveInstance({ stateDir, prefix: "xb" })).rejects.toThrow(/prefix "xa", not "xb"/);
    await expect(resolveInstance({ stateDir, name: "x2" })).rejects.toThrow(InstanceConfigError);
  });

  it("gives an instance stored before NSM's gRPC port the port after its agents'", async () => {
    const stateDir = tempDir();
    const first = await resolveInstance({ name: "older", stateDir, ports: "auto" });
    expect(first.ports.nsmGrpc).toBe(first.ports.agentBase + 4);
    const file = path.join(stateDir, "instance.json");
    const { nsmGrpc: _, ...before } = first.ports;
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), ports: before }));
    expect(loadInstance(stateDir)?.ports).toEqual(first.ports);
  });

  it("loads an instance stored with the pod API's port key (ports.pods) with that port as ports.lab", async () => {
    const stateDir = tempDir();
    const first = await resolveInstance({ name: "podsport", stateDir, ports: "auto" });
    const file = path.join(stateDir, "instance.json");
    const { lab, ...rest } = first.ports;
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), ports: { ...rest, pods: lab } }));
    const loaded = loadInstance(stateDir)!;
    expect(loaded.ports).toEqual(first.ports);
    expect(loaded.ports).not.toHaveProperty("pods");
    expect(endpointsFor(loaded).lab).toBe(`http://127.0.0.1:${lab}`);
  });

  it("will not adopt a directory full of someone else's files", async () => {
    const stateDir = tempDir();
    fs.writeFileSync(path.join(stateDir, "thesis.tex"), "precious");
    await expect(resolveInstance({ name: "x", stateDir })).rejects.toThrow(/not lab state/);
  });

  it("wiping removes only the lab's own files", async () => {
    const stateDir = tempDir();
    const c = await resolveInstance({ name: "w", stateDir, ports: "auto" });
    writeEndpoints(stateDir, endpointsFor(c));
    fs.writeFileSync(path.join(stateDir, "notes.txt"), "mine");
    expect(wipeStateDir(stateDir)).toEqual({ removedDir: false, kept: ["notes.txt"] });
    expect(fs.readdirSync(stateDir)).toEqual(["notes.txt"]);
    fs.rmSync(path.join(stateDir, "notes.txt"));
    expect(wipeStateDir(stateDir).removedDir).toBe(true);
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(loadInstance(stateDir)).toBeUndefined();
  });
});

describe("validation", () => {
  it.each([
    ["instance name", () => checkInstanceName("Bad_Name")],
    ["instance name too long", () => checkInstanceName("a".repeat(25))],
    ["prefix with a dash", () => checkPrefix("a-b")],
    ["prefix too long", () => checkPrefix("abcdefg")],
    ["prefix starting with a digit", () => checkPrefix("1ab")],
    ["node name too long for u-<node>", () => checkNodeName("compute-node-one")],
    ["node name clashing with the underlay netns", () => checkNodeName("underlay")],
    ["node name with a slash", () => checkNodeName("../etc")],
  ])("rejects %s", (_what, check) => {
    expect(check()).toMatch(/./);
  });

  it("accepts the default names", () => {
    for (const n of ["compute-1", "k8s-2"]) expect(checkNodeName(n)).toBeUndefined();
    expect(checkPrefix("tfm")).toBeUndefined();
    expect(checkInstanceName("default")).toBeUndefined();
  });

  it("rejects duplicate nodes and clashing ports", async () => {
    await expect(resolveInstance({ stateDir: tempDir(), k8sNodes: ["n1", "n1"] }, { create: false })).rejects.toThrow(/twice/);
    await expect(resolveInstance({ stateDir: tempDir(), ports: { nsm: 9092 } }, { create: false })).rejects.toThrow(/agent port 9092/);
  });
});

describe("endpoints.json", () => {
  it("round-trips, is private, and reports damage instead of pretending the lab is absent", async () => {
    const stateDir = tempDir();
    const c = await resolveInstance({ name: "e", stateDir, ports: "auto" });
    expect(readEndpoints(stateDir)).toBeUndefined();
    writeEndpoints(stateDir, endpointsFor(c));
    expect(readEndpoints(stateDir)).toEqual(endpointsFor(c));
    expect(fs.statSync(path.join(stateDir, "endpoints.json")).mode & 0o077).toBe(0);
    fs.writeFileSync(path.join(stateDir, "endpoints.json"), "{ half");
    expect(() => readEndpoints(stateDir)).toThrow(/not valid JSON/);
  });
});
