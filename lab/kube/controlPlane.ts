// Starts and stops the control plane processes of a lab instance on 127.0.0.1: etcd, then
// kube-apiserver (TLS from --cert-dir, RBAC, a token file with the admin, the service-account key
// pair), then kube-controller-manager and kube-scheduler (serving /healthz with the API server's
// certificate). Each waits for the previous to be healthy. They stop in the reverse order: an API
// server whose etcd is gone takes over 30 s to exit. Each runs under `setpriv --pdeathsig`, so a
// daemon that dies takes its control plane with it.
import path from "node:path";
import { logTail, startChild, stopChild, stopProcessesIn } from "../../lib/children.ts";
import type { Child } from "../../lib/children.ts";
import { HttpClient } from "../../lib/http/client.ts";
import type { LabInstanceConfig } from "../instance.ts";
import type { KubeBinary, ResolvedBinary } from "./binaries.ts";
import type { KubeFiles } from "./files.ts";
import { servingCa } from "./files.ts";

/** Services get their ClusterIPs here: apart from the pod network 10.244.0.0/16 and the underlay. */
export const SERVICE_CIDR = "10.96.0.0/16";

export type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";
const START_ORDER: Component[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

export interface ComponentHealth {
  component: Component;
  pid?: number;
  url: string;
  ok: boolean;
  detail: string;
}

export interface ControlPlane {
  server: string;
  /** Asks each component's health endpoint (etcd /health, the API server /readyz, the others /healthz). */
  health(): Promise<ComponentHealth[]>;
  stop(): Promise<void>;
}

export interface ControlPlanePorts {
  kubeApiserver: number;
  etcd: number;
  etcdPeer: number;
  kubeControllerManager: number;
  kubeScheduler: number;
}

export function controlPlanePorts(config: LabInstanceConfig): ControlPlanePorts {
  const p = config.ports;
  if (p.kubeApiserver === undefined || p.etcd === undefined || p.etcdPeer === undefined || p.kubeControllerManager === undefined || p.kubeScheduler === undefined) {
    throw new Error(`instance ${config.name} has no Kubernetes ports; start it with kubernetes enabled`);
  }
  return { kubeApiserver: p.kubeApiserver, etcd: p.etcd, etcdPeer: p.etcdPeer, kubeControllerManager: p.kubeControllerManager, kubeScheduler: p.kubeScheduler };
}

export const apiserverUrl = (ports: ControlPlanePorts) => `https://127.0.0.1:${ports.kubeApiserver}`;

export function healthUrls(ports: ControlPlanePorts): Record<Component, string> {
  return {
    etcd: `http://127.0.0.1:${ports.etcd}/health`,
    "kube-apiserver": `https://127.0.0.1:${ports.kubeApiserver}/readyz`,
    "kube-controller-manager": `https://127.0.0.1:${ports.kubeControllerManager}/healthz`,
    "kube-scheduler": `https://127.0.0.1:${ports.kubeScheduler}/healthz`,
  };
}

function argsFor(c: Component, ports: ControlPlanePorts, f: KubeFiles): string[] {
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  const client = `http://127.0.0.1:${ports.etcd}`;
  const served = [`--tls-cert-file=${f.servingCert}`, `--tls-private-key-file=${f.servingKey}`, "--bind-address=127.0.0.1"];
  switch (c) {
    case "etcd":
      return [
        "--name=lab",
        `--data-dir=${f.etcdData}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=lab=${peer}`,
        "--log-level=warn",
        // A lab's data is cheap to lose and its disk is shared: no fsync per write.
        "--unsafe-no-fsync",
        "--quota-backend-bytes=1073741824",
      ];
    case "kube-apiserver":
      return [
        `--etcd-servers=${client}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        // The `kubernetes` Service's endpoint would be 127.0.0.1, which Endpoints refuse: no reconciler.
        "--endpoint-reconciler-type=none",
        `--secure-port=${ports.kubeApiserver}`,
        `--cert-dir=${f.certDir}`,
        `--token-auth-file=${f.tokenFile}`,
        "--authorization-mode=RBAC",
        // The forwarder DaemonSets (as on a real cluster) are privileged.
        "--allow-privileged=true",
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${f.saPub}`,
        `--service-account-signing-key-file=${f.saKey}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--v=0",
      ];
    case "kube-controller-manager":
      return [
        `--kubeconfig=${f.kubeconfig}`,
        `--authentication-kubeconfig=${f.kubeconfig}`,
        `--authorization-kubeconfig=${f.kubeconfig}`,
        `--service-account-private-key-file=${f.saKey}`,
        `--root-ca-file=${f.servingCert}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        "--leader-elect=false",
        `--secure-port=${ports.kubeControllerManager}`,
        ...served,
        "--profiling=false",
        "--v=0",
      ];
    case "kube-scheduler":
      return [
        `--kubeconfig=${f.kubeconfig}`,
        `--authentication-kubeconfig=${f.kubeconfig}`,
        `--authorization-kubeconfig=${f.kubeconfig}`,
        "--leader-elect=false",
        `--secure-port=${ports.kubeScheduler}`,
        ...served,
        "--profiling=false",
        "--v=0",
      ];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const componentLog = (f: KubeFiles, c: Component) => path.join(f.logs, `${c}.log`);

// One client (and connection pool) per endpoint and CA: polling must not open a pool per attempt.
const probeClients = new Map<string, HttpClient>();

async function probe(url: string, ca: string | undefined, token: string | undefined): Promise<{ ok: boolean; detail: string }> {
  const u = new URL(url);
  const cacheKey = `${u.origin} ${ca ?? ""}`;
  let client = probeClients.get(cacheKey);
  if (!client) {
    client = new HttpClient({ baseUrl: u.origin, retries: 0, timeoutMs: 3000, ...(ca ? { ca } : {}) });
    probeClients.set(cacheKey, client);
  }
  try {
    const res = await client.get<unknown>(u.pathname, { headers: token ? { authorization: `Bearer ${token}` } : {}, expect: [200] });
    const text = typeof res.body === "string" ? res.body.trim() : JSON.stringify(res.body);
    return { ok: true, detail: text.slice(0, 80) };
  } catch (e) {
    return { ok: false, detail: (e as Error).message.slice(0, 200) };
  }
}

/** Health of each component, asked over HTTP (usable from the CLI without the daemon's help). */
export async function probeControlPlane(ports: ControlPlanePorts, f: KubeFiles, token: string): Promise<ComponentHealth[]> {
  const urls = healthUrls(ports);
  let ca: string | undefined;
  try {
    ca = servingCa(f);
  } catch {
    ca = undefined;
  }
  return Promise.all(
    START_ORDER.map(async (component) => {
      const url = urls[component];
      if (component !== "etcd" && ca === undefined) return { component, url, ok: false, detail: "no serving certificate yet" };
      const r = await probe(url, component === "etcd" ? undefined : ca, component === "kube-apiserver" ? token : undefined);
      return { component, url, ...r };
    }),
  );
}

export interface StartControlPlaneOptions {
  config: LabInstanceConfig;
  binaries: Record<KubeBinary, ResolvedBinary>;
  files: KubeFiles;
  token: string;
  /** Called once the API server's certificate exists (the kubeconfig needs it, and the controllers need the kubeconfig). */
  onApiserverReady: () => void;
  log: (line: string) => void;
  phase: (p: string) => void;
  timeoutMs?: number;
}

export async function startControlPlane(o: StartControlPlaneOptions): Promise<ControlPlane> {
  const ports = controlPlanePorts(o.config);
  const urls = healthUrls(ports);
  // A child's name is its component.
  const running: Child[] = [];
  const timeoutMs = o.timeoutMs ?? 90_000;

  const stop = async () => {
    for (const group of [["kube-scheduler", "kube-controller-manager"], ["kube-apiserver"], ["etcd"]] as Component[][]) {
      await Promise.all(
        running
          .filter((r) => (group as string[]).includes(r.name))
          .map((r) => stopChild(r, o.log)),
      );
    }
  };

  const waitHealthy = async (r: Child, component: Component): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const needsCa = component !== "etcd";
    for (;;) {
      if (r.exitCode !== undefined) throw new Error(`${component} exited before it became healthy; its log (${componentLog(o.files, component)}) ends:\n${logTail(componentLog(o.files, component))}`);
      let ca: string | undefined;
      if (needsCa) {
        try {
          ca = servingCa(o.files);
        } catch {
          ca = undefined;
        }
      }
      if (!needsCa || ca !== undefined) {
        const res = await probe(urls[component], ca, component === "kube-apiserver" ? o.token : undefined);
        if (res.ok) return;
      }
      if (Date.now() > deadline) throw new Error(`${component} did not become healthy within ${timeoutMs / 1000} s (${urls[component]}); its log ends:\n${logTail(componentLog(o.files, component))}`);
      await sleep(250);
    }
  };

  try {
    await stopProcessesIn(o.files.dir, o.log);
    for (const c of START_ORDER) {
      o.phase(`starting ${c} (${o.binaries[c].version}, ${o.binaries[c].source})`);
      const r = startChild({ name: c, bin: o.binaries[c].path, args: argsFor(c, ports, o.files), cwd: o.files.dir, logFile: componentLog(o.files, c), log: o.log });
      running.push(r);
      await waitHealthy(r, c);
      if (c === "kube-apiserver") o.onApiserverReady();
    }
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    server: apiserverUrl(ports),
    health: async () => {
      const probes = await probeControlPlane(ports, o.files, o.token);
      return probes.map((p) => ({ ...p, pid: running.find((r) => r.name === p.component && r.exitCode === undefined)?.child.pid }));
    },
    stop,
  };
}
