// The lab's SPIFFE identities, in one place: its trust domain, the gids its processes run with (the
// unix workload attestor tells them apart by gid; every lab process runs as uid 0), and the
// registration entries that map those to SPIFFE IDs.
import type { SpireEntry } from "./spire.ts";

export const LAB_TRUST_DOMAIN = "tfmesh.lab";

/** The lab daemon (NSMgr and registry) runs with this gid. */
export const NSMGR_GID = 64620;
/** The forwarder processes run with this gid. */
export const FORWARDER_GID = 64621;
/** The operator's tools (pulumi's provider, the CLI, tests) run as root: uid 0, gid 0. */
export const OPERATOR_GID = 0;

export type LabRole = "nsmgr" | "forwarder" | "operator";

/** Role -> SPIFFE ID. */
export const LAB_IDENTITIES: Readonly<Record<LabRole, string>> = {
  nsmgr: `spiffe://${LAB_TRUST_DOMAIN}/ns/nsm-system/sa/nsmgr`,
  forwarder: `spiffe://${LAB_TRUST_DOMAIN}/ns/nsm-system/sa/forwarder`,
  operator: `spiffe://${LAB_TRUST_DOMAIN}/operator/root`,
};

/** Role -> the gid its processes run with (uid 0 for all). */
export const LAB_GIDS: Readonly<Record<LabRole, number>> = {
  nsmgr: NSMGR_GID,
  forwarder: FORWARDER_GID,
  operator: OPERATOR_GID,
};

/** The registration entries of the lab's identities (their parent is the lab's agent). */
export function labEntries(): SpireEntry[] {
  return (Object.keys(LAB_IDENTITIES) as LabRole[]).map((role) => ({
    spiffeId: LAB_IDENTITIES[role],
    selectors: ["unix:uid:0", `unix:gid:${LAB_GIDS[role]}`],
  }));
}
