// The SPIRE server's and agent's configuration (HCL) for one lab instance, all in one directory:
//
//   <dir>/server.conf   server on 127.0.0.1:<port>; its API on <dir>/server.sock (SPIRE makes it
//                       0770 root:root: root only); data (sqlite3 datastore, disk keys) in <dir>/server
//   <dir>/agent.conf    agent of that server; the Workload API on <dir>/agent.sock (0777: any
//                       process, the unix workload attestor tells them apart); data in <dir>/agent
//   <dir>/bundle.pem    the server's trust bundle (`spire-server bundle show`), the agent's bootstrap
//   <dir>/server.log, <dir>/agent.log
//
// Start-up latency: the server reloads its entry cache every second (default 5 s) and the agent
// syncs every second (default 5 s), so entries created just before the agent starts reach it within
// about a second. The agent keeps its SVID and key on disk (KeyManager "disk"): a restarted agent
// needs no new join token while its SVID is valid.
import fs from "node:fs";
import path from "node:path";

export interface SpireConfigOptions {
  dir: string;
  /** The server's TCP port on 127.0.0.1 (agents connect to it). */
  port: number;
  trustDomain: string;
  /** Default: "WARN". */
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
}

export interface SpireFiles {
  dir: string;
  serverConf: string;
  agentConf: string;
  serverSocket: string;
  workloadSocket: string;
  serverData: string;
  agentData: string;
  bundle: string;
  serverLog: string;
  agentLog: string;
}

/** SVIDs of workloads live an hour; the CA a day (SPIRE's defaults), and an agent's SVID as long as the CA allows. */
export const X509_SVID_TTL = "1h";
export const CA_TTL = "24h";
export const AGENT_TTL = "24h";
/** How often the server reloads its entry cache and the agent syncs with the server. */
export const CACHE_RELOAD_INTERVAL = "1s";
export const AGENT_SYNC_INTERVAL = "1s";

/** A unix socket path must fit sockaddr_un's 108 bytes, NUL included. */
const MAX_SOCKET_PATH = 107;

export function spireFiles(dir: string): SpireFiles {
  const d = path.resolve(dir);
  return {
    dir: d,
    serverConf: path.join(d, "server.conf"),
    agentConf: path.join(d, "agent.conf"),
    serverSocket: path.join(d, "server.sock"),
    workloadSocket: path.join(d, "agent.sock"),
    serverData: path.join(d, "server"),
    agentData: path.join(d, "agent"),
    bundle: path.join(d, "bundle.pem"),
    serverLog: path.join(d, "server.log"),
    agentLog: path.join(d, "agent.log"),
  };
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

/** Why these options cannot make a working configuration, or undefined. */
export function checkSpireConfig(o: SpireConfigOptions): string | undefined {
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) return `SPIRE server port must be an integer 1-65535, got ${o.port}`;
  if (!TRUST_DOMAIN.test(o.trustDomain) || o.trustDomain.length > 255) {
    return `trust domain "${o.trustDomain}" must be lowercase letters, digits, ".", "_" and "-" (a SPIFFE trust domain name)`;
  }
  const f = spireFiles(o.dir);
  for (const sock of [f.serverSocket, f.workloadSocket]) {
    if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) return `socket path ${sock} is longer than ${MAX_SOCKET_PATH} bytes; choose a shorter directory for SPIRE`;
  }
  return undefined;
}

// HCL strings take JSON's escapes for what can occur in a path.
const str = (s: string) => JSON.stringify(s);

export function serverConfig(o: SpireConfigOptions): string {
  const f = spireFiles(o.dir);
  return `# Written by tfmesh (lab/spire/config.ts); rewritten at every start.
server {
  bind_address = "127.0.0.1"
  bind_port = "${o.port}"
  socket_path = ${str(f.serverSocket)}
  trust_domain = ${str(o.trustDomain)}
  data_dir = ${str(f.serverData)}
  log_level = ${str(o.logLevel ?? "WARN")}
  log_file = ${str(f.serverLog)}
  default_x509_svid_ttl = "${X509_SVID_TTL}"
  ca_ttl = "${CA_TTL}"
  agent_ttl = "${AGENT_TTL}"
  experimental {
    cache_reload_interval = "${CACHE_RELOAD_INTERVAL}"
  }
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = ${str(path.join(f.serverData, "datastore.sqlite3"))}
    }
  }
  KeyManager "disk" {
    plugin_data {
      keys_path = ${str(path.join(f.serverData, "keys.json"))}
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
`;
}

export function agentConfig(o: SpireConfigOptions): string {
  const f = spireFiles(o.dir);
  return `# Written by tfmesh (lab/spire/config.ts); rewritten at every start. The join token is given on
# the command line at the first start only: afterwards the agent's SVID and key in data_dir suffice.
agent {
  data_dir = ${str(f.agentData)}
  log_level = ${str(o.logLevel ?? "WARN")}
  log_file = ${str(f.agentLog)}
  server_address = "127.0.0.1"
  server_port = "${o.port}"
  socket_path = ${str(f.workloadSocket)}
  trust_bundle_path = ${str(f.bundle)}
  trust_domain = ${str(o.trustDomain)}
  experimental {
    sync_interval = "${AGENT_SYNC_INTERVAL}"
  }
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "disk" {
    plugin_data {
      directory = ${str(f.agentData)}
    }
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`;
}

/**
 * Writes server.conf and agent.conf into o.dir and makes the directories: <dir> 0711 (others may
 * reach the Workload API socket in it, nothing else), the data directories 0700.
 */
export function writeSpireConfig(o: SpireConfigOptions): SpireFiles {
  const problem = checkSpireConfig(o);
  if (problem) throw new Error(problem);
  const f = spireFiles(o.dir);
  fs.mkdirSync(f.dir, { recursive: true });
  fs.chmodSync(f.dir, 0o711);
  for (const d of [f.serverData, f.agentData]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    fs.chmodSync(d, 0o700);
  }
  writeFileAtomic(f.serverConf, serverConfig(o));
  writeFileAtomic(f.agentConf, agentConfig(o));
  return f;
}

export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}
