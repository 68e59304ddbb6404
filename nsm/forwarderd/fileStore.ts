// What a forwarder process keeps across its restarts, as files under the directory its environment
// names (TFMESH_STATE_DIR; a hostPath on a real node): each connection as it answered it, so a
// restarted forwarder still monitors, checks and closes it, and the kernel forwarder's address
// leases, so a restart keeps every pod's address. Each write replaces its file atomically
// (write, then rename), so a forwarder killed mid-write leaves the old file or the new one.
import fs from "node:fs";
import path from "node:path";
import type { Connection } from "../../wire/nsm/api.ts";
import { assertConnectionId } from "../connection.ts";
import type { IpamLease, IpamStore } from "../forwarders/kernel/ipam.ts";
import type { ConnectionStore } from "../manager.ts";

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Connections as `<dir>/connections/<id>.json` (ids are checked to be file-name safe). The files are
 * read once, at the first use: the forwarder is the only writer of its directory, so reads come from
 * memory and each change is written through. A Request asks for every held interface name, which
 * cost a read of every file per Request (N files with N connections) before.
 */
export function fileConnectionStore(dir: string): ConnectionStore {
  const folder = path.join(dir, "connections");
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const fileOf = (id: string) => {
    assertConnectionId(id);
    return path.join(folder, `${id}.json`);
  };
  let cache: Map<string, Connection> | undefined;
  const loaded = (): Map<string, Connection> => {
    cache ??= new Map(
      fs
        .readdirSync(folder)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .flatMap((f) => {
          const c = readJson<Connection>(path.join(folder, f));
          return c ? [[f.slice(0, -".json".length), c] as const] : [];
        }),
    );
    return cache;
  };
  return {
    get: (id) => {
      assertConnectionId(id);
      return loaded().get(id);
    },
    set: (id, c) => {
      writeAtomically(fileOf(id), JSON.stringify(c));
      loaded().set(id, c);
    },
    delete: (id) => {
      fs.rmSync(fileOf(id), { force: true });
      loaded().delete(id);
    },
    list: () => [...loaded().entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c),
  };
}

/** The kernel forwarder's leases, all in `<dir>/leases.json`. */
export function fileLeaseStore(dir: string): IpamStore {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, "leases.json");
  const all = (): IpamLease[] => readJson<IpamLease[]>(file) ?? [];
  const save = (leases: IpamLease[]) => writeAtomically(file, JSON.stringify(leases, null, 1));
  return {
    find: (service, id) => all().find((l) => l.service === service && l.connectionId === id),
    list: (service) => all().filter((l) => l.service === service),
    add: (lease) => {
      const others = all().filter((l) => !(l.service === lease.service && l.connectionId === lease.connectionId));
      if (others.some((l) => l.service === lease.service && l.address === lease.address)) {
        throw new Error(`address ${lease.address} of service ${lease.service} is leased already`);
      }
      save([...others, lease]);
    },
    release: (service, id) => save(all().filter((l) => !(l.service === service && l.connectionId === id))),
  };
}
