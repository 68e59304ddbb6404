// The SPIRE of one lab instance: its server and agent under <stateDir>/spire, the lab's trust
// domain and registration entries (identities.ts), the server on the instance's own port.
import type { LabSockets } from "../endpoints.ts";
import type { LabInstanceConfig } from "../instance.ts";
import { LAB_TRUST_DOMAIN, labEntries } from "./identities.ts";
import { startSpire } from "./spire.ts";
import type { Spire } from "./spire.ts";

export async function startLabSpire(config: LabInstanceConfig, sockets: Pick<LabSockets, "spireDir">, log: (line: string) => void): Promise<Spire> {
  const port = config.ports.spireServer;
  if (port === undefined) throw new Error(`instance ${config.name} has no SPIRE server port in its instance.json`);
  const t0 = performance.now();
  const spire = await startSpire({ dir: sockets.spireDir, port, trustDomain: LAB_TRUST_DOMAIN, entries: labEntries(), log });
  log(`server and agent up after ${Math.round(performance.now() - t0)} ms (Workload API ${spire.workloadSocket})`);
  return spire;
}
