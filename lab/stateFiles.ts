// The files the lab keeps in a state dir, and removing exactly those (never a user's files).
import fs from "node:fs";
import path from "node:path";

/** Files the lab itself keeps in a state dir; `down --wipe` removes only these. */
export function isLabStateFile(file: string): boolean {
  return /^(instance\.json|endpoints\.json|daemon\.pid|daemon\.log|lab\.db(-wal|-shm|-journal)?|[a-z]+\.sqlite(-wal|-shm)?|.*\.tmp|kube|kubeconfig|sock|forwarders|spire)$/.test(file);
}

/** Removes the lab's own files from the state dir, and the dir when nothing else is in it. */
export function wipeStateDir(stateDir: string): { removedDir: boolean; kept: string[] } {
  let entries: string[];
  try {
    entries = fs.readdirSync(stateDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { removedDir: true, kept: [] };
    throw e;
  }
  const kept: string[] = [];
  for (const f of entries) {
    // kube/ is a directory (etcd's data, the control plane's keys and logs), as are sock/ (the
    // daemon's unix sockets), forwarders/ (the forwarder processes' state) and spire/ (the SPIRE
    // server's datastore and keys, the agent's, their sockets and logs).
    if (isLabStateFile(f)) fs.rmSync(path.join(stateDir, f), { force: true, recursive: true });
    else kept.push(f);
  }
  if (kept.length === 0) {
    fs.rmdirSync(stateDir);
    return { removedDir: true, kept };
  }
  return { removedDir: false, kept };
}
