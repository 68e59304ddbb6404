// The forwarder's DaemonSet as plain Kubernetes JSON, one builder for both users: the
// TungstenForwarder component (real clusters, through @pulumi/kubernetes) and the lab (applied to
// its API server, whose kubelet runs the image as a process). The environment is exactly what
// config.ts reads; anything else is refused here, naming the variable.
//
// Why each part: host network (the node's vRouter agent is on 127.0.0.1:9091), host pids (a
// client's netns arrives as inode://<dev>/<ino>, found through /proc), privileged and the host's
// netns folder (veth pairs into pods), the NSM socket folder (the NSMgr's socket, its own, and the
// state that keeps its connections across restarts), the SPIRE agent's socket folder (its SVID:
// mTLS on every NSM hop and the path tokens, as NSM's forwarders do).
import type { ForwarderType } from "./config.ts";
import { FORWARDER_ENV, FORWARDER_TYPES } from "./config.ts";

export const NSM_SOCKET_DIR = "/var/lib/networkservicemesh";
export const DEFAULT_HEALTH_PORT = 5801;
export const DEFAULT_AGENT_URL = "http://127.0.0.1:9091";
/** Where NSM's deployments mount the SPIRE agent's Workload API socket. */
export const SPIRE_SOCKET_DIR = "/run/spire/sockets";

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface ForwarderManifestInput {
  /** The DaemonSet's (and ServiceAccount's) name. */
  name: string;
  type: ForwarderType;
  image: string;
  namespace?: string;
  /** TF's config API (required for tungsten). */
  tfApiUrl?: string;
  /** Secret for TF's Keystone auth: key "token", or key "password" with tfKeystone. */
  tfAuthSecretName?: string;
  tfKeystone?: { authUrl: string; username: string; project: string; domain?: string };
  /** Default http://127.0.0.1:9091. */
  agentUrl?: string;
  /** The host folder with the NSMgr's socket (nsm.io.sock); default /var/lib/networkservicemesh. */
  socketDir?: string;
  /** The host folder with the SPIRE agent's Workload API socket (agent.sock); default /run/spire/sockets. */
  spireSocketDir?: string;
  /** Its own socket; default unix://<socketDir>/tfmesh-<name>.sock. $(NSM_NAME) and $(NODE_NAME) expand. */
  listenOn?: string;
  /** TFMESH_STATE_DIR; default <socketDir>/tfmesh/<name>. */
  stateDir?: string;
  /** NSM labels besides `type`. */
  labels?: Record<string, string>;
  /** Port (host network) of its grpc.health.v1 service, probed by the kubelet. Default 5801. */
  healthPort?: number;
  nodeSelector?: Record<string, string>;
  /** More of the program's variables (e.g. the lab's TFMESH_NODE_NETNS); a name it does not read is refused. */
  extraEnv?: EnvVar[];
}

export interface ForwarderManifest {
  serviceAccount: { apiVersion: "v1"; kind: "ServiceAccount"; metadata: { name: string; namespace: string } };
  daemonSet: { apiVersion: "apps/v1"; kind: "DaemonSet"; metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: Record<string, any> };
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

function env(i: ForwarderManifestInput, socketDir: string, spireDir: string, healthPort: number): EnvVar[] {
  const labels = Object.entries({ type: i.type, ...i.labels }).map(([k, v]) => `${k}:${v}`).join(",");
  const tungsten = i.type === "tungsten";
  const out: EnvVar[] = [
    { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    // Stable across the pod's restarts, so the NSMgr finds the connections' forwarder again.
    { name: "NSM_NAME", value: `${i.type}@$(NODE_NAME)` },
    { name: "NSM_LABELS", value: labels },
    { name: "NSM_CONNECT_TO", value: `unix://${socketDir}/nsm.io.sock` },
    { name: "NSM_LISTEN_ON", value: i.listenOn ?? `unix://${socketDir}/tfmesh-${i.name}.sock` },
    { name: "TFMESH_STATE_DIR", value: i.stateDir ?? `${socketDir}/tfmesh/${i.name}` },
    { name: "TFMESH_HEALTH_LISTEN_ON", value: `tcp://0.0.0.0:${healthPort}` },
    ...(tungsten ? [{ name: "TF_API_URL", value: i.tfApiUrl! }] : []),
    { name: "VROUTER_AGENT_URL", value: i.agentUrl ?? DEFAULT_AGENT_URL },
    { name: "SPIFFE_ENDPOINT_SOCKET", value: `unix://${spireDir}/agent.sock` },
  ];
  if (tungsten && i.tfAuthSecretName !== undefined && i.tfKeystone === undefined) {
    out.push({ name: "TF_AUTH_TOKEN", valueFrom: { secretKeyRef: { name: i.tfAuthSecretName, key: "token", optional: true } } });
  }
  if (tungsten && i.tfKeystone !== undefined) {
    out.push(
      { name: "OS_AUTH_URL", value: i.tfKeystone.authUrl },
      { name: "OS_USERNAME", value: i.tfKeystone.username },
      { name: "OS_PROJECT_NAME", value: i.tfKeystone.project },
      { name: "OS_USER_DOMAIN_NAME", value: i.tfKeystone.domain ?? "Default" },
    );
    if (i.tfAuthSecretName !== undefined) out.push({ name: "OS_PASSWORD", valueFrom: { secretKeyRef: { name: i.tfAuthSecretName, key: "password" } } });
  }
  for (const e of i.extraEnv ?? []) {
    if (!(FORWARDER_ENV as readonly string[]).includes(e.name)) throw new ManifestError(`extraEnv: ${e.name} is not a variable tfmesh forwarder reads (${FORWARDER_ENV.join(", ")})`);
    const at = out.findIndex((v) => v.name === e.name);
    if (at >= 0) out[at] = e;
    else out.push(e);
  }
  return out;
}

/** The forwarder's ServiceAccount and DaemonSet. */
export function forwarderManifest(i: ForwarderManifestInput): ForwarderManifest {
  if (!FORWARDER_TYPES.includes(i.type)) throw new ManifestError(`type must be ${FORWARDER_TYPES.join(" or ")}, got "${i.type}"`);
  if (!i.image) throw new ManifestError("image is required");
  if (i.type === "tungsten" && !i.tfApiUrl) throw new ManifestError("tfApiUrl is required for the tungsten forwarder");
  const healthPort = i.healthPort ?? DEFAULT_HEALTH_PORT;
  if (!Number.isInteger(healthPort) || healthPort < 1 || healthPort > 65535) throw new ManifestError(`healthPort must be a port number, got ${healthPort}`);
  const namespace = i.namespace ?? "nsm-system";
  const socketDir = (i.socketDir ?? NSM_SOCKET_DIR).replace(/\/+$/, "");
  const spireDir = (i.spireSocketDir ?? SPIRE_SOCKET_DIR).replace(/\/+$/, "");
  const labels = { app: i.name, "networkservicemesh.io/forwarder": i.type };
  const hostPath = (path: string, type: string) => ({ path, type });
  return {
    serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: i.name, namespace } },
    daemonSet: {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: i.name, namespace, labels },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: i.name,
            hostNetwork: true,
            dnsPolicy: "ClusterFirstWithHostNet",
            hostPID: true,
            tolerations: [{ operator: "Exists" }],
            ...(i.nodeSelector !== undefined ? { nodeSelector: i.nodeSelector } : {}),
            containers: [
              {
                name: "forwarder",
                image: i.image,
                securityContext: { privileged: true },
                env: env(i, socketDir, spireDir, healthPort),
                ports: [{ name: "health", containerPort: healthPort, protocol: "TCP" }],
                readinessProbe: { grpc: { port: healthPort }, periodSeconds: 10 },
                livenessProbe: { grpc: { port: healthPort }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
                volumeMounts: [
                  { name: "nsm-socket", mountPath: socketDir },
                  { name: "netns", mountPath: "/var/run/netns", mountPropagation: "HostToContainer" },
                  { name: "spire-agent-socket", mountPath: spireDir, readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: "nsm-socket", hostPath: hostPath(socketDir, "DirectoryOrCreate") },
              { name: "netns", hostPath: hostPath("/var/run/netns", "Directory") },
              { name: "spire-agent-socket", hostPath: hostPath(spireDir, "Directory") },
            ],
          },
        },
      },
    },
  };
}
