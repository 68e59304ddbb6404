// NSM's durable state in the lab's sqlite database: registry records (without Kubernetes; with it
// they are NSM's CRs, and these tables are what a first start with them moves there), connections
// (as the chain answered them) and the kernel forwarder's address leases. Records are stored as
// JSON, one row each.
import type { DatabaseSync } from "node:sqlite";
import type { Connection, NetworkService, NetworkServiceEndpoint } from "../../wire/nsm/api.ts";
import { serviceBinding } from "../../wire/nsm/api.ts";
import { withContext } from "../../nsm/connection.ts";
import type { IpamLease, IpamStore } from "../../nsm/forwarders/kernel/ipam.ts";
import { PLUGGED_PORT, VMI_UUID } from "../../nsm/forwarders/tungsten/context.ts";
import type { ConnectionStore } from "../../nsm/manager.ts";
import type { RecordStore, RegistryStore } from "../../nsm/registry.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS nsm_service (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nsm_endpoint (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nsm_connection (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nsm_kernel_lease (
  service TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  address TEXT NOT NULL,
  PRIMARY KEY (service, connection_id),
  UNIQUE (service, address)
);`;

export interface NsmStores extends RegistryStore {
  connections: ConnectionStore;
  leases: IpamStore;
}

/** A table of JSON records keyed by one text column. */
function jsonTable<T>(db: DatabaseSync, table: string, key: string): RecordStore<T> {
  const get = db.prepare(`SELECT record FROM ${table} WHERE ${key} = ?`);
  const put = db.prepare(`INSERT INTO ${table} (${key}, record) VALUES (?, ?) ON CONFLICT (${key}) DO UPDATE SET record = excluded.record`);
  const del = db.prepare(`DELETE FROM ${table} WHERE ${key} = ?`);
  const list = db.prepare(`SELECT record FROM ${table} ORDER BY ${key}`);
  return {
    get: (k) => {
      const row = get.get(k) as { record: string } | undefined;
      return row ? (JSON.parse(row.record) as T) : undefined;
    },
    put: (k, r) => void put.run(k, JSON.stringify(r)),
    delete: (k) => Number(del.run(k).changes) > 0,
    list: () => (list.all() as Array<{ record: string }>).map((r) => JSON.parse(r.record) as T),
  };
}

/**
 * Rows of tfmesh 0.2 and earlier held `{connection, service, node, endpoint, forwarder}`: the
 * connection gets what it now carries itself (endpoint name, payload, the service's section) and
 * the tungsten VMI it plugged under its own key, so a lab made before keeps healing and closing.
 */
function migrateConnections(db: DatabaseSync): void {
  const update = db.prepare("UPDATE nsm_connection SET record = ? WHERE id = ?");
  for (const row of db.prepare("SELECT id, record FROM nsm_connection").all() as Array<{ id: string; record: string }>) {
    const old = JSON.parse(row.record) as { connection?: Connection; service?: NetworkService; endpoint?: string };
    if (!old.connection || !old.service) continue;
    const plugged = old.connection.context?.extra_context?.[VMI_UUID];
    const c = { ...old.connection, payload: old.service.payload, ...(old.endpoint ? { network_service_endpoint_name: old.endpoint } : {}) };
    update.run(JSON.stringify(withContext(c, { extra_context: { ...serviceBinding(old.service), ...(plugged ? { [PLUGGED_PORT]: plugged } : {}) } })), row.id);
  }
}

/** The registry's tables, nsm_service and nsm_endpoint. */
export function sqliteRegistry(db: DatabaseSync): RegistryStore {
  db.exec(SCHEMA);
  return {
    services: jsonTable<NetworkService>(db, "nsm_service", "name"),
    endpoints: jsonTable<NetworkServiceEndpoint>(db, "nsm_endpoint", "name"),
  };
}

export function nsmStores(db: DatabaseSync): NsmStores {
  db.exec(SCHEMA);
  migrateConnections(db);
  const connections = jsonTable<Connection>(db, "nsm_connection", "id");
  const findLease = db.prepare("SELECT service, connection_id, address FROM nsm_kernel_lease WHERE service = ? AND connection_id = ?");
  const listLeases = db.prepare("SELECT service, connection_id, address FROM nsm_kernel_lease WHERE service = ?");
  const addLease = db.prepare("INSERT INTO nsm_kernel_lease (service, connection_id, address) VALUES (?, ?, ?)");
  const releaseLease = db.prepare("DELETE FROM nsm_kernel_lease WHERE service = ? AND connection_id = ?");
  const lease = (r: { service: string; connection_id: string; address: string }): IpamLease => ({
    service: r.service,
    connectionId: r.connection_id,
    address: r.address,
  });
  return {
    ...sqliteRegistry(db),
    connections: { get: connections.get, set: connections.put, delete: (id) => void connections.delete(id), list: connections.list },
    leases: {
      find: (service, id) => {
        const row = findLease.get(service, id) as Parameters<typeof lease>[0] | undefined;
        return row ? lease(row) : undefined;
      },
      list: (service) => (listLeases.all(service) as Array<Parameters<typeof lease>[0]>).map(lease),
      add: (l) => void addLease.run(l.service, l.connectionId, l.address),
      release: (service, id) => void releaseLease.run(service, id),
    },
  };
}
