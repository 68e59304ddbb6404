// The lab's forwarders when it has Kubernetes: the tungsten and kernel DaemonSets of
// nsm/forwarderd/manifest.ts (the TungstenForwarder component's manifest) applied to the lab's API
// server in nsm-system, with the image tfmesh/forwarder:<package version> that the lab's kubelet
// runs as `tfmesh forwarder` (processPods.ts). The lab's differences are inputs, not a second
// manifest: its NSMgr socket and the forwarders' sockets and state under the state dir (all nodes
// share one file system, so they are per NSM name), TF and Keystone at the node's 127.0.0.1 (the
// node's relay), Keystone's password in a Secret, and the variables that keep a forwarder to the
// lab's namespaces. The two share a node's network, so their health ports differ.
import fs from "node:fs";
import path from "node:path";
import type { ForwarderType } from "../../nsm/forwarderd/config.ts";
import { FORWARDER_TYPES } from "../../nsm/forwarderd/config.ts";
import { DEFAULT_HEALTH_PORT, forwarderManifest } from "../../nsm/forwarderd/manifest.ts";
import type { EnvVar } from "../../nsm/forwarderd/manifest.ts";
import type { KubeObject, KubernetesClient } from "../../wire/kubernetes.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import { NODE_AGENT_PORT } from "../endpoints.ts";
import type { LabSockets } from "../endpoints.ts";
import type { LabInstanceConfig } from "../instance.ts";
import { FORWARDER_IMAGE } from "./processPods.ts";

export const FORWARDER_NAMESPACE = "nsm-system";
const TF_AUTH_SECRET = "tfmesh-lab-tf-auth";

const version = (JSON.parse(fs.readFileSync(new URL(import.meta.url.endsWith(".ts") ? "../../package.json" : "../../../package.json", import.meta.url), "utf8")) as { version: string }).version;
/** The image the lab's DaemonSets name (any tag of tfmesh/forwarder runs the same). */
export const LAB_FORWARDER_IMAGE = `${FORWARDER_IMAGE}:${version}`;

export const daemonSetName = (type: ForwarderType) => `${type}-forwarder`;

export interface LabForwarderInputs {
  instance: Pick<LabInstanceConfig, "prefix" | "ports" | "auth" | "credentials" | "stateDir">;
  sockets: LabSockets;
  /** NSM_MAX_TOKEN_LIFETIME; the registry's default when unset. */
  registrationLifetimeMs?: number;
}

/** The objects the lab applies: namespace, Keystone secret, and per type a ServiceAccount and a DaemonSet. */
export function labForwarderObjects(i: LabForwarderInputs): KubeObject[] {
  const { instance, sockets } = i;
  const keystone = instance.auth === "keystone";
  const socketDir = path.dirname(sockets.nsm);
  const extraEnv: EnvVar[] = [
    { name: "TFMESH_NODE_NETNS", value: `${instance.prefix}-$(NODE_NAME)` },
    { name: "TFMESH_POD_NETNS_PREFIX", value: `${instance.prefix}-pod-` },
    { name: "TFMESH_EXIT_ON_STDIN_EOF", value: "1" },
    ...(i.registrationLifetimeMs ? [{ name: "NSM_MAX_TOKEN_LIFETIME", value: `${i.registrationLifetimeMs}ms` }] : []),
  ];
  const objects: KubeObject[] = [{ apiVersion: "v1", kind: "Namespace", metadata: { name: FORWARDER_NAMESPACE } }];
  if (keystone) {
    objects.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: TF_AUTH_SECRET, namespace: FORWARDER_NAMESPACE },
      data: { password: Buffer.from(instance.credentials.password).toString("base64") },
    } as KubeObject);
  }
  FORWARDER_TYPES.forEach((type, k) => {
    const m = forwarderManifest({
      name: daemonSetName(type),
      type,
      image: LAB_FORWARDER_IMAGE,
      namespace: FORWARDER_NAMESPACE,
      tfApiUrl: `http://127.0.0.1:${instance.ports.tf}`,
      ...(keystone
        ? {
            tfAuthSecretName: TF_AUTH_SECRET,
            tfKeystone: { authUrl: `http://127.0.0.1:${instance.ports.keystone}/v3`, username: instance.credentials.username, project: instance.credentials.project, domain: instance.credentials.domain },
          }
        : {}),
      agentUrl: `http://127.0.0.1:${NODE_AGENT_PORT}`,
      socketDir,
      spireSocketDir: sockets.spireDir,
      // As sockets.forwarder(name) and sockets.forwarderState(name): the same as the lab's own processes had.
      listenOn: `unix://${socketDir}/$(NSM_NAME).sock`,
      stateDir: path.join(path.dirname(sockets.forwarderState("x")), "$(NSM_NAME)"),
      healthPort: DEFAULT_HEALTH_PORT + k,
      extraEnv,
    });
    objects.push(m.serviceAccount, m.daemonSet as KubeObject);
  });
  return objects;
}

const PLURAL: Record<string, string> = {
  Namespace: "namespaces",
  Secret: "secrets",
  ServiceAccount: "serviceaccounts",
  DaemonSet: "daemonsets",
  MutatingWebhookConfiguration: "mutatingwebhookconfigurations",
};

/** Who owns the fields the lab applies (server-side apply). */
const FIELD_MANAGER = "tfmesh-lab";

/** Creates or updates each object as the lab wants it (server-side apply, the lab's fields forced). */
export async function applyObjects(client: KubernetesClient, objects: KubeObject[]): Promise<void> {
  for (const obj of objects) {
    const plural = PLURAL[obj.kind ?? ""];
    if (!plural) throw new Error(`applyObjects: kind ${obj.kind} is not one the lab applies`);
    const path = `${resourcePath(obj.apiVersion!, plural, obj.metadata.namespace)}/${encodeURIComponent(obj.metadata.name)}`;
    // Server-side apply: a GET then PUT could meet a 409 when the DaemonSet controller wrote its status between.
    await client.apply(path, obj, FIELD_MANAGER);
  }
}
