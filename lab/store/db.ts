// The lab's one sqlite database. Each subsystem creates its own tables (CREATE TABLE IF NOT EXISTS).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

const DB_FILE = "lab.db";

/** Opens (creating if needed) <stateDir>/lab.db in WAL mode with a busy timeout, so the CLI can read while the daemon writes. */
export function openDb(stateDir: string): DatabaseSync {
  mkdirSync(stateDir, { recursive: true });
  const db = new DatabaseSync(path.join(stateDir, DB_FILE));
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA synchronous = NORMAL");
  return db;
}

/**
 * Runs fn inside one transaction; nested calls join the outer one. All lab stores are synchronous,
 * so a transaction never interleaves with another request in this process.
 */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}
