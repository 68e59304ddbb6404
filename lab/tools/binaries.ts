// Which build of an external program the lab runs: the user's own (named by an environment
// variable, in extra directories such as KUBEBUILDER_ASSETS, or on PATH) when it reports a supported
// version, else the one a tools/<name>/build.sh builds from the Go module proxy into .tools/bin.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ResolvedBinary {
  path: string;
  version: string;
  /** Where it was found: an environment variable's name, "PATH", or "built". */
  source: string;
}

export interface BinarySpec {
  name: string;
  /** The arguments that make it print its version, and how to read it. */
  versionArgs: readonly string[];
  parseVersion: (output: string) => string | undefined;
  supported: (version: string) => boolean;
  /** What a supported version is, for errors ("kube-apiserver v1.37.x"). */
  wanted: string;
  /** Directories searched after the named file and before PATH, with the variable that names each. */
  extraDirs?: (env: NodeJS.ProcessEnv) => Array<{ dir: string; source: string }>;
}

/** The directory the build scripts install into (TFMESH_TOOLS_BIN, else <repo>/.tools/bin). */
export function toolsBin(env: NodeJS.ProcessEnv = process.env): string {
  return env.TFMESH_TOOLS_BIN && env.TFMESH_TOOLS_BIN !== "" ? path.resolve(env.TFMESH_TOOLS_BIN) : path.join(REPO_ROOT, ".tools", "bin");
}

/** TFMESH_<NAME>: kube-apiserver -> TFMESH_KUBE_APISERVER. */
export const binaryEnvName = (name: string) => `TFMESH_${name.toUpperCase().replace(/-/g, "_")}`;

/** The version a binary reports, or undefined when it cannot run. */
export async function reportedVersion(spec: BinarySpec, file: string): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(file, [...spec.versionArgs], { timeout: 20_000 });
    return spec.parseVersion(`${stdout}\n${stderr}`);
  } catch {
    return undefined;
  }
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function candidates(spec: BinarySpec, env: NodeJS.ProcessEnv): Array<{ file: string; source: string }> {
  const out: Array<{ file: string; source: string }> = [];
  const named = env[binaryEnvName(spec.name)];
  if (named) out.push({ file: path.resolve(named), source: binaryEnvName(spec.name) });
  for (const extra of spec.extraDirs?.(env) ?? []) out.push({ file: path.join(extra.dir, spec.name), source: extra.source });
  const built = toolsBin(env);
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir !== "" && path.resolve(dir) !== built) out.push({ file: path.join(dir, spec.name), source: "PATH" });
  }
  out.push({ file: path.join(built, spec.name), source: "built" });
  return out;
}

/** The first usable binary; a named one (TFMESH_<NAME>) that is missing or unsupported is an error, not skipped. */
export async function findBinary(spec: BinarySpec, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedBinary | undefined> {
  const namedBy = binaryEnvName(spec.name);
  for (const c of candidates(spec, env)) {
    if (!executable(c.file)) {
      if (c.source === namedBy) throw new Error(`${c.source}=${c.file}: not an executable file`);
      continue;
    }
    const version = await reportedVersion(spec, c.file);
    if (version !== undefined && spec.supported(version)) return { path: c.file, version, source: c.source };
    if (c.source === namedBy) throw new Error(`${c.source}=${c.file} reports ${version ?? "no version"}; the lab needs ${spec.wanted}`);
  }
  return undefined;
}

export interface BuildScript {
  /** Relative to the repository: tools/kubernetes/build.sh. */
  script: string;
  /** What to do when the build is impossible or fails (appended to the error). */
  hint: string;
}

/** Runs a build script for the given binaries, passing its progress lines to `progress`. */
export function buildBinaries(build: BuildScript, names: readonly string[], progress: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const script = path.join(REPO_ROOT, build.script);
  if (!fs.existsSync(script)) {
    return Promise.reject(new Error(`${names.join(", ")} not found (looked at ${names.map(binaryEnvName).join(", ")} and PATH); install them, or build them in a tfmesh checkout with ${build.script}`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script, ...names], { env, stdio: ["ignore", "pipe", "pipe"] });
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
      else reject(new Error(`${build.script} ${names.join(" ")} failed (exit ${code}):\n${tail.join("\n")}\n(${build.hint})`));
    });
  });
}

/** Every binary of `specs`, building the missing ones first (one build for all of them). */
export async function ensureBinaries<N extends string>(
  specs: Readonly<Record<N, BinarySpec>>,
  build: BuildScript & { announce: string },
  progress: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<N, ResolvedBinary>> {
  const names = Object.keys(specs) as N[];
  const found = new Map<N, ResolvedBinary>();
  await Promise.all(
    names.map(async (n) => {
      const r = await findBinary(specs[n], env);
      if (r) found.set(n, r);
    }),
  );
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) {
    progress(`building ${missing.join(", ")} (none usable installed); ${build.announce}`);
    await buildBinaries(build, missing, progress, env);
    for (const n of missing) {
      const r = await findBinary(specs[n], env);
      if (!r) throw new Error(`${n} is still not usable after ${build.script}`);
      found.set(n, r);
    }
  }
  return Object.fromEntries(names.map((n) => [n, found.get(n)!])) as Record<N, ResolvedBinary>;
}
