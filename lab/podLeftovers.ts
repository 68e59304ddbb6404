// At start: the pod namespaces the data plane holds that no Kubernetes pod row owns are leftovers
// (a lab without Kubernetes has no pods at all). The kubelet writes its row before it makes a
// namespace, so a crash never leaves an owned namespace looking like one of these.
import type { PodRuntime } from "./dataplane/types.ts";

export async function removeUnownedPods(
  runtime: PodRuntime,
  owned: (runtimeName: string) => boolean,
  closeConnections: (runtimeName: string) => Promise<void>,
  log: (line: string) => void,
): Promise<string[]> {
  const leftovers = (runtime.listPods?.() ?? []).filter((name) => !owned(name));
  for (const name of leftovers) {
    log(`removing pod ${name}: the data plane holds it but no Kubernetes pod owns it`);
    // The forwarders need the namespace to tear their interfaces down, so its connections go first.
    await closeConnections(name);
    await runtime.deletePod(name);
  }
  return leftovers;
}
