// Which Kubernetes and etcd binaries the lab runs: the user's own (named by TFMESH_<NAME>, in
// KUBEBUILDER_ASSETS, or on PATH) when they report a supported version, else the ones
// tools/kubernetes/build.sh builds from the Go module proxy into .tools/bin (built on first need).
import * as tools from "../tools/binaries.ts";
import type { BinarySpec, ResolvedBinary } from "../tools/binaries.ts";

export type { ResolvedBinary } from "../tools/binaries.ts";
export { toolsBin } from "../tools/binaries.ts";

export const KUBE_BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"] as const;
export type KubeBinary = (typeof KUBE_BINARIES)[number];

/** The release the lab is built and tested against (tools/kubernetes/go.mod pins the same). */
export const KUBERNETES_VERSION = "v1.37.2";
/** Components of another minor release are refused: they check each other's versions. */
const KUBE_MINOR = /^v1\.37\.\d+/;
/** etcd 3.5 and newer (Debian's 3.4 is older than Kubernetes supports). */
const ETCD_SUPPORTED = /^3\.([5-9]|\d{2,})\.\d+/;

export type KubeBinaries = Record<KubeBinary, string>;

const kubebuilderAssets = (env: NodeJS.ProcessEnv) => (env.KUBEBUILDER_ASSETS ? [{ dir: env.KUBEBUILDER_ASSETS, source: "KUBEBUILDER_ASSETS" }] : []);

function spec(binary: KubeBinary): BinarySpec {
  if (binary === "etcd") {
    return { name: binary, versionArgs: ["--version"], parseVersion: (out) => /etcd Version:\s*(\S+)/.exec(out)?.[1], supported: (v) => ETCD_SUPPORTED.test(v), wanted: "etcd >= 3.5", extraDirs: kubebuilderAssets };
  }
  return {
    name: binary,
    versionArgs: binary === "kubectl" ? ["version", "--client"] : ["--version"],
    parseVersion: (out) => /(v\d+\.\d+\.\d+\S*)/.exec(out)?.[1],
    supported: (v) => KUBE_MINOR.test(v),
    wanted: `${binary} v1.37.x`,
    extraDirs: kubebuilderAssets,
  };
}

const SPECS = Object.fromEntries(KUBE_BINARIES.map((b) => [b, spec(b)])) as Record<KubeBinary, BinarySpec>;

const BUILD = {
  script: "tools/kubernetes/build.sh",
  hint: "a lab without Kubernetes needs none of them: tfmesh lab up without --kubernetes",
  announce: `${KUBERNETES_VERSION}; the first build takes 15-25 minutes`,
};

/** The version a binary reports, or undefined when it cannot run. */
export const reportedVersion = (binary: KubeBinary, file: string) => tools.reportedVersion(SPECS[binary], file);

/** The first usable binary; a named one (TFMESH_<NAME>) that is missing or unsupported is an error, not skipped. */
export const findBinary = (binary: KubeBinary, env: NodeJS.ProcessEnv = process.env) => tools.findBinary(SPECS[binary], env);

/** Runs tools/kubernetes/build.sh for the given binaries, passing its progress lines to `progress`. */
export const buildBinaries = (names: readonly KubeBinary[], progress: (line: string) => void, env: NodeJS.ProcessEnv = process.env) => tools.buildBinaries(BUILD, names, progress, env);

/** Every binary the lab needs, building the missing ones first. */
export const ensureBinaries = (progress: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<Record<KubeBinary, ResolvedBinary>> =>
  tools.ensureBinaries(SPECS, BUILD, progress, env);
