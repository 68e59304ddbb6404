// Which Kubernetes and etcd binaries the lab runs: the user's own (named by TFMESH_<NAME>, in
// KUBEBUILDER_ASSETS, or on PATH) when they report a supported version, else the ones
// tools/kubernetes/build.sh builds from the Go module proxy into .tools/bin (built on first need).
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const KUBE_BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"] as const;
export type KubeBinary = (typeof KUBE_BINARIES)[number];

/** The release the lab is built and tested against (tools/kubernetes/go.mod pins the same). */
export const KUBERNETES_VERSION = "v1.37.2";
/** Components of another minor release are refused: they check each other's versions. */
const KUBE_MINOR = /^v1\.37\.\d+/;
/** etcd 3.5 and newer (Debian's 3.4 is older than Kubernetes supports). */
const ETCD_SUPPORTED = /^3\.([5-9]|\d{2,})\.\d+/;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUILD_SCRIPT = path.join(ROOT, "tools", "kubernetes", "build.sh");

export type KubeBinaries = Record<KubeBinary, string>;

export interface ResolvedBinary {
  path: string;
  version: string;
  /** Where it was found: an environment variable's name, "PATH", or "built". */
  source: string;
}

/** The directory build.sh installs into (TFMESH_TOOLS_BIN, else <repo>/.tools/bin). */
export function toolsBin(env: NodeJS.ProcessEnv = process.env): string {
  return env.TFMESH_TOOLS_BIN && env.TFMESH_TOOLS_BIN !== "" ? path.resolve(env.TFMESH_TOOLS_BIN) : path.join(ROOT, ".tools", "bin");
}

const envName = (b: KubeBinary) => `TFMESH_${b.toUpperCase().replace(/-/g, "_")}`;

/** The version a binary reports, or undefined when it cannot run. */
export async function reportedVersion(binary: KubeBinary, file: string): Promise<string | undefined> {
  const args = binary === "kubectl" ? ["version", "--client"] : ["--version"];
  try {
    const { stdout } = await run(file, args, { timeout: 20_000 });
    const m = binary === "etcd" ? /etcd Version:\s*(\S+)/.exec(stdout) : /(v\d+\.\d+\.\d+\S*)/.exec(stdout);
    return m?.[1];
  } catch {
    return undefined;
  }
}

function supported(binary: KubeBinary, version: string): boolean {
  return binary === "etcd" ? ETCD_SUPPORTED.test(version) : KUBE_MINOR.test(version);
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function candidates(binary: KubeBinary, env: NodeJS.ProcessEnv): Array<{ file: string; source: string }> {
  const out: Array<{ file: string; source: string }> = [];
  const named = env[envName(binary)];
  if (named) out.push({ file: path.resolve(named), source: envName(binary) });
  if (env.KUBEBUILDER_ASSETS) out.push({ file: path.join(env.KUBEBUILDER_ASSETS, binary), source: "KUBEBUILDER_ASSETS" });
  const built = toolsBin(env);
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir !== "" && path.resolve(dir) !== built) out.push({ file: path.join(dir, binary), source: "PATH" });
  }
  out.push({ file: path.join(built, binary), source: "built" });
  return out;
}

/** The first usable binary; a named one (TFMESH_<NAME>) that is missing or unsupported is an error, not skipped. */
export async function findBinary(binary: KubeBinary, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedBinary | undefined> {
  for (const c of candidates(binary, env)) {
    if (!executable(c.file)) {
      if (c.source === envName(binary)) throw new Error(`${c.source}=${c.file}: not an executable file`);
      continue;
    }
    const version = await reportedVersion(binary, c.file);
    if (version !== undefined && supported(binary, version)) return { path: c.file, version, source: c.source };
    if (c.source === envName(binary)) {
      throw new Error(`${c.source}=${c.file} reports ${version ?? "no version"}; the lab needs ${binary === "etcd" ? "etcd >= 3.5" : `${binary} v1.37.x`}`);
    }
  }
  return undefined;
}

/** Runs tools/kubernetes/build.sh for the given binaries, passing its progress lines to `progress`. */
export function buildBinaries(names: readonly KubeBinary[], progress: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!fs.existsSync(BUILD_SCRIPT)) {
    return Promise.reject(
      new Error(`${names.join(", ")} ${KUBERNETES_VERSION} not found (looked at ${names.map(envName).join(", ")}, KUBEBUILDER_ASSETS, PATH); install them, or build them in a tfmesh checkout with tools/kubernetes/build.sh`),
    );
  }
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT, ...names], { env, stdio: ["ignore", "pipe", "pipe"] });
    let tail: string[] = [];
    const lines = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        progress(line);
        tail = [...tail, line].slice(-20);
      }
    };
    child.stdout.on("data", lines);
    child.stderr.on("data", lines);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`tools/kubernetes/build.sh ${names.join(" ")} failed (exit ${code}):\n${tail.join("\n")}\n(a lab without Kubernetes needs none of them: tfmesh lab up without --kubernetes)`));
    });
  });
}

/** Every binary the lab needs, building the missing ones first. */
export async function ensureBinaries(progress: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<Record<KubeBinary, ResolvedBinary>> {
  const found = new Map<KubeBinary, ResolvedBinary>();
  await Promise.all(
    KUBE_BINARIES.map(async (b) => {
      const r = await findBinary(b, env);
      if (r) found.set(b, r);
    }),
  );
  const missing = KUBE_BINARIES.filter((b) => !found.has(b));
  if (missing.length > 0) {
    progress(`building ${missing.join(", ")} ${KUBERNETES_VERSION} (none usable installed); the first build takes 15-25 minutes`);
    await buildBinaries(missing, progress, env);
    for (const b of missing) {
      const r = await findBinary(b, env);
      if (!r) throw new Error(`${b} is still not usable after tools/kubernetes/build.sh`);
      found.set(b, r);
    }
  }
  return Object.fromEntries(KUBE_BINARIES.map((b) => [b, found.get(b)!])) as Record<KubeBinary, ResolvedBinary>;
}
