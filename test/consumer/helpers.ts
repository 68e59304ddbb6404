// What test/consumer/consumer.test.ts needs to act as a user of the published package: running
// commands with a clean environment (argument arrays, never a shell), showing their output when an
// assertion fails, and reading the lab's object counts the way a user reads them (`tfmesh lab status`).
import { execFile } from "node:child_process";
import path from "node:path";

/** The checkout (this file is test/consumer/helpers.ts). */
export const REPO = path.resolve(new URL("../..", import.meta.url).pathname);
/** Node 24 (the `node` devDependency); the machine's own node may be older. */
export const NODE24 = path.join(REPO, "node_modules", "node", "bin", "node");
export const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
export const PULUMI_BIN_DIR = path.join(REPO, ".tools", "bin");

export interface CommandResult {
  command: string;
  cwd: string;
  /** Exit code; -1 when the process was killed (timeout) or could not start. */
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs?: number;
}

const tail = (s: string, max = 8000) => (s.length > max ? `[... ${s.length - max} characters cut ...]\n${s.slice(-max)}` : s);

/** Runs `file args` without a shell; never rejects, the result carries the exit code and output. */
export function run(file: string, args: string[], opts: RunOptions): Promise<CommandResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env, encoding: "utf8", timeout: opts.timeoutMs ?? 240_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        let code = 0;
        let signal: string | null = null;
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: unknown; signal?: string | null };
          code = typeof e.code === "number" ? e.code : -1;
          signal = e.signal ?? null;
          if (code === -1 && !stderr) stderr = String(err.message);
        }
        resolve({ command: [file, ...args].join(" "), cwd: opts.cwd, code, signal, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - t0 });
      },
    );
  });
}

/** Everything about a command run, for assertion messages. */
export function show(r: CommandResult): string {
  return [
    `$ ${r.command}`,
    `  (in ${r.cwd}; exit ${r.code}${r.signal ? `, signal ${r.signal}` : ""}; ${r.ms} ms)`,
    `--- stdout ---`,
    tail(r.stdout),
    `--- stderr ---`,
    tail(r.stderr),
  ].join("\n");
}

export interface CleanEnvOptions {
  home: string;
  pulumiHome: string;
  backendDir: string;
  tfmeshHome: string;
  endpointsFile: string;
}

/**
 * The environment of a user's shell, built from scratch (nothing inherited from the test process:
 * in particular no NODE_OPTIONS, whose `--conditions=tfmesh-source` would resolve tfmesh to the
 * checkout's .ts sources instead of the installed package).
 */
export function cleanEnv(o: CleanEnvOptions): Record<string, string> {
  return {
    ...machineNetworkSettings(),
    PATH: [path.dirname(NODE24), PULUMI_BIN_DIR, "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].join(":"),
    HOME: o.home,
    LANG: "C.UTF-8",
    // Pulumi's own files (workspace settings of each project) stay out of the user's ~/.pulumi.
    PULUMI_HOME: o.pulumiHome,
    PULUMI_BACKEND_URL: `file://${o.backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: "tfmesh-consumer-test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    TFMESH_HOME: o.tfmeshHome,
    TFMESH_ENDPOINTS: o.endpointsFile,
    // npm would otherwise ask the registry whether it is outdated and print a notice on stderr.
    npm_config_update_notifier: "false",
  };
}

/**
 * What a user's shell on this machine has for reaching the registry (a proxy, the CA bundle that
 * trusts it, a registry mirror): without them npm install hangs until its timeout.
 */
const NETWORK_VARIABLES = /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|npm_config_(registry|cafile|proxy|https_proxy|strict_ssl))$/;

function machineNetworkSettings(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => NETWORK_VARIABLES.test(e[0]) && e[1] !== undefined));
}

export interface LabCounts {
  virtualNetworks: number;
  virtualMachines: number;
  ports: number;
  pods: number;
  connections: number;
}

const COUNT_LINES: Array<[keyof LabCounts, string]> = [
  ["virtualNetworks", "virtual networks"],
  ["virtualMachines", "VMs"],
  ["ports", "ports (VMIs)"],
  ["pods", "pods"],
  ["connections", "NSM connections"],
];

/** The "Objects" block of `tfmesh lab status`; throws (with the output) when a line is missing. */
export function parseLabCounts(r: CommandResult): LabCounts {
  const counts: Partial<LabCounts> = {};
  for (const [key, label] of COUNT_LINES) {
    const m = new RegExp(`^  ${label.replace(/[()]/g, "\\$&")}\\s+(\\d+)$`, "m").exec(r.stdout);
    if (!m) throw new Error(`"${label}" is missing from lab status\n${show(r)}`);
    counts[key] = Number(m[1]);
  }
  return counts as LabCounts;
}

export const EMPTY_LAB: LabCounts = { virtualNetworks: 0, virtualMachines: 0, ports: 0, pods: 0, connections: 0 };
