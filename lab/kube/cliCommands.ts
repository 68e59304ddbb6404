// What the lab CLI does with the lab's Kubernetes: run kubectl with the lab's kubeconfig (the
// user's arguments passed as they are, never through a shell) and show the control plane's health.
import { spawn } from "node:child_process";
import fs from "node:fs";
import type { LabInstanceConfig } from "../instance.ts";
import { ensureBinaries, findBinary } from "./binaries.ts";
import { controlPlanePorts, probeControlPlane } from "./controlPlane.ts";
import type { ComponentHealth } from "./controlPlane.ts";
import { existingKubeconfig, kubeFiles } from "./files.ts";

/** Runs kubectl against the instance's API server; resolves with kubectl's exit code. */
export async function runKubectl(config: LabInstanceConfig, args: string[]): Promise<number> {
  if (!config.kubernetes) throw new Error(`lab "${config.name}" runs no Kubernetes; start it with "tfmesh lab up --kubernetes"`);
  const kubeconfig = existingKubeconfig(config.stateDir, config.name);
  const kubectl = await findBinary("kubectl");
  if (!kubectl) throw new Error('no kubectl v1.37.x found (TFMESH_KUBECTL, KUBEBUILDER_ASSETS, PATH, .tools/bin); "tfmesh lab up" builds it');
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl.path, ["--kubeconfig", kubeconfig, ...args], { stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** The control plane's health as the CLI shows it (asked directly, so it works while the daemon is busy). */
export async function kubernetesHealth(config: LabInstanceConfig): Promise<ComponentHealth[]> {
  const files = kubeFiles(config.stateDir);
  let token = "";
  try {
    token = fs.readFileSync(files.tokenFile, "utf8").split(",")[0]!.trim();
  } catch {
    // never started: every probe will say so
  }
  return probeControlPlane(controlPlanePorts(config), files, token);
}

export function renderKubernetesHealth(health: ComponentHealth[]): string[] {
  const w = Math.max(...health.map((h) => h.component.length));
  return health.map((h) => `  ${h.component.padEnd(w)}  ${h.ok ? "ok" : "DOWN"}  ${h.url}${h.ok ? "" : `  (${h.detail})`}`);
}

/** Builds what is missing before a daemon is spawned, so the build's progress shows on the terminal. */
export async function prepareKubernetesBinaries(progress: (line: string) => void): Promise<void> {
  await ensureBinaries(progress);
}
