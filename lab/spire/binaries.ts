// Which spire-server and spire-agent the lab runs: the user's own (TFMESH_SPIRE_SERVER /
// TFMESH_SPIRE_AGENT, or on PATH) when they report SPIRE 1.10 or newer, else the ones
// tools/spire/build.sh builds from the Go module proxy into .tools/bin (built on first need).
import * as tools from "../tools/binaries.ts";
import type { BinarySpec, ResolvedBinary } from "../tools/binaries.ts";

export const SPIRE_BINARIES = ["spire-server", "spire-agent"] as const;
export type SpireBinary = (typeof SPIRE_BINARIES)[number];

/** The release tools/spire/go.mod pins; older 1.x releases from 1.10 on speak the same CLI. */
export const SPIRE_VERSION = "1.13.3";
const SUPPORTED = /^1\.(1\d|[2-9]\d)\.\d+/;

const spec = (name: SpireBinary): BinarySpec => ({
  name,
  versionArgs: ["--version"],
  parseVersion: (out) => /(\d+\.\d+\.\d+\S*)/.exec(out)?.[1],
  supported: (v) => SUPPORTED.test(v),
  wanted: `${name} 1.10 or newer (the lab is tested with ${SPIRE_VERSION})`,
});

const SPECS: Record<SpireBinary, BinarySpec> = { "spire-server": spec("spire-server"), "spire-agent": spec("spire-agent") };

export type SpireBinaries = Record<SpireBinary, ResolvedBinary>;

/** spire-server and spire-agent, building them first when none usable is installed. */
export const ensureSpireBinaries = (progress: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<SpireBinaries> =>
  tools.ensureBinaries(SPECS, { script: "tools/spire/build.sh", hint: "the lab runs NSM with SPIFFE identities: install spire-server and spire-agent 1.10+ on PATH, or Go to build them", announce: `SPIRE ${SPIRE_VERSION}; the first build takes about 10 minutes` }, progress, env);

/** An installed or built one, without building. */
export const findSpireBinary = (name: SpireBinary, env: NodeJS.ProcessEnv = process.env) => tools.findBinary(SPECS[name], env);
