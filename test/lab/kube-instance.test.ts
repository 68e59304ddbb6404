// The instance option `kubernetes`: ports for the control plane in new instances (auto and
// default), the option switched on for an instance stored without it, and what endpoints.json says.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { endpointsFor } from "../../lab/endpoints.ts";
import { KUBE_PORT_KEYS, loadInstance, resolveInstance } from "../../lab/instance.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tfmesh-kube-instance-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("kubernetes: true", () => {
  it("gives a new auto-port instance five more distinct ports after its others", async () => {
    const config = await resolveInstance({ name: "kube-auto", stateDir: tempDir(), ports: "auto", kubernetes: true });
    expect(config.kubernetes).toBe(true);
    const kube = KUBE_PORT_KEYS.map((k) => config.ports[k]!);
    expect(kube.every((p) => Number.isInteger(p))).toBe(true);
    const others = Object.entries(config.ports).filter(([k]) => !(KUBE_PORT_KEYS as readonly string[]).includes(k)).map(([, v]) => v);
    expect(Math.min(...kube)).toBeGreaterThan(Math.max(...others, config.ports.agentBase + 3));
    expect(new Set(kube).size).toBe(5);
    expect(endpointsFor(config).kubernetes).toEqual({ server: `https://127.0.0.1:${config.ports.kubeApiserver}`, kubeconfig: path.join(config.stateDir, "kubeconfig") });
  });

  it("uses the usual control plane ports for an instance with standard ports", async () => {
    const config = await resolveInstance({ name: "kube-std", stateDir: tempDir(), kubernetes: true });
    expect(config.ports).toMatchObject({ kubeApiserver: 6443, etcd: 2379, etcdPeer: 2380, kubeControllerManager: 10257, kubeScheduler: 10259 });
  });

  it("leaves an instance without it as it is, and switches a stored one on when asked, keeping its other ports", async () => {
    const dir = tempDir();
    const plain = await resolveInstance({ name: "kube-later", stateDir: dir, ports: "auto" });
    expect(plain.kubernetes).toBeUndefined();
    expect(endpointsFor(plain).kubernetes).toBeUndefined();
    expect((await resolveInstance({ stateDir: dir })).kubernetes).toBeUndefined();
    const on = await resolveInstance({ stateDir: dir, kubernetes: true });
    expect(on.kubernetes).toBe(true);
    expect(on.ports.tf).toBe(plain.ports.tf);
    expect(on.ports.kubeApiserver).toBeDefined();
    expect(loadInstance(dir)).toMatchObject({ kubernetes: true, ports: { kubeApiserver: on.ports.kubeApiserver } });
  });

  it("refuses a stored instance that runs Kubernetes without its ports, naming them", async () => {
    const dir = tempDir();
    await resolveInstance({ name: "kube-broken", stateDir: dir, ports: "auto" });
    const file = path.join(dir, "instance.json");
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), kubernetes: true }));
    expect(() => loadInstance(dir)).toThrow(/kubernetes needs the ports kubeApiserver, etcd, etcdPeer, kubeControllerManager, kubeScheduler/);
  });
});
