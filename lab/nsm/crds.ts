// NSM's CRDs in the lab's API server: applied at every start (server-side apply, so a newer lab's
// printer columns replace an older one's), then waited for until the API server serves their
// resources: Established first, and a new CRD's storage answers 429 "storage is (re)initializing"
// for a moment after that.
import { isStatus } from "../../lib/http/client.ts";
import type { KubernetesClient } from "../../wire/kubernetes.ts";
import { resourcePath } from "../../wire/kubernetes.ts";
import type { CustomResourceDefinition } from "../../wire/nsm/crd.ts";
import { NSM_API_VERSION, NSM_CRDS } from "../../wire/nsm/crd.ts";

const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const FIELD_MANAGER = "tfmesh-lab";

export async function installNsmCrds(client: Pick<KubernetesClient, "get" | "list" | "apply">, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const path = (crd: CustomResourceDefinition) => `${CRD_PATH}/${crd.metadata.name}`;
  for (const crd of NSM_CRDS) await client.apply(path(crd), crd, FIELD_MANAGER);
  const deadline = performance.now() + timeoutMs;
  const pause = () => new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 100));
  for (const crd of NSM_CRDS) {
    for (;;) {
      const now = await client.get<CustomResourceDefinition>(path(crd));
      const conditions = now?.status?.conditions ?? [];
      if (conditions.some((c) => c.type === "Established" && c.status === "True")) break;
      if (performance.now() > deadline) {
        const seen = conditions.map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ""}`).join(", ") || "none";
        throw new Error(`CRD ${crd.metadata.name} is not Established after ${timeoutMs} ms; its conditions: ${seen}`);
      }
      await pause();
    }
    for (;;) {
      try {
        await client.list(resourcePath(NSM_API_VERSION, crd.spec.names.plural));
        break;
      } catch (e) {
        if (!isStatus(e, 404, 429, 503)) throw e;
        if (performance.now() > deadline) throw new Error(`the API server does not serve ${crd.metadata.name} after ${timeoutMs} ms: ${(e as Error).message}`);
      }
      await pause();
    }
  }
}
