// The TF object database of the lab: what contrail-api does between the wire and Cassandra. The
// generic object store (objectStore.ts) with TF's per-type rules (typeRules.ts), seeded with the
// objects a TF cluster has from the start. Used by the TF HTTP API, by Neutron (as TF's Neutron
// plugin does) and by the vRouter agents.
import type { DatabaseSync } from "node:sqlite";
import { AllocationTables } from "./allocations.ts";
import { ObjectStore } from "./objectStore.ts";
import type { TfObject } from "./objectView.ts";
import { TfTables } from "./tables.ts";
import { TfTypeRules } from "./typeRules.ts";

export { TfError } from "./errors.ts";
export type { ChangeEvent, ListQuery, RefUpdateRequest } from "./objectStore.ts";
export type { ReadOptions, TfObject } from "./objectView.ts";
export { macFromUuid } from "./typeRules.ts";

export interface ConfigStoreOptions {
  /** Compute / k8s nodes; each gets a virtual-router. */
  nodes: Array<{ name: string; ip: string }>;
}

export class ConfigStore extends ObjectStore {
  constructor(db: DatabaseSync, opts: ConfigStoreOptions) {
    const tables = new TfTables(db);
    super(db, tables, new TfTypeRules(tables, new AllocationTables(db)));
    this.seed(opts.nodes);
  }

  /** TF's default domain, project, ipam and global config, the lab's admin project, and a virtual-router per node at its underlay address. */
  private seed(nodes: Array<{ name: string; ip: string }>): void {
    this.transaction(() => {
      const ensure = (type: string, fq: string[], props: Record<string, unknown> = {}): TfObject =>
        (this.list(type, { fqNames: [fq], detail: true }) as TfObject[])[0] ?? this.create(type, { fq_name: fq, ...props });
      ensure("domain", ["default-domain"]);
      ensure("project", ["default-domain", "default-project"]);
      ensure("network-ipam", ["default-domain", "default-project", "default-network-ipam"]);
      ensure("global-system-config", ["default-global-system-config"], { autonomous_system: 64512 });
      ensure("project", ["default-domain", "admin"]);
      for (const n of nodes) {
        const vr = ensure("virtual-router", ["default-global-system-config", n.name], { virtual_router_ip_address: n.ip });
        if (vr.virtual_router_ip_address !== n.ip) this.update("virtual-router", vr.uuid, { virtual_router_ip_address: n.ip });
      }
    });
  }
}
