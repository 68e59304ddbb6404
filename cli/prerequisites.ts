// What a `tfmesh lab` command needs from the machine, checked before it starts so a missing piece
// is one clear message that says what to install, not a stack trace from deep in the data plane.
import { missingPrograms } from "../lib/kernel/run.ts";
import type { Program } from "../lib/kernel/run.ts";

export interface Requirement {
  /** The lab builds network namespaces, veth pairs and bridges: only root may. */
  root: boolean;
  programs: readonly Program[];
}

const DATAPLANE: readonly Program[] = ["ip", "bridge", "sysctl", "ping", "arping"];

/** What each lab command needs; commands that only read the daemon's HTTP API need nothing. */
export function requirementOf(command: string | undefined, args: { wipe?: boolean } = {}): Requirement {
  switch (command) {
    case "up":
      return { root: true, programs: DATAPLANE };
    case "down":
      return args.wipe ? { root: true, programs: ["ip"] } : { root: false, programs: [] };
    case "exec":
      return { root: true, programs: ["ip"] };
    case "reach":
      return { root: true, programs: ["ip", "ping"] };
    default:
      return { root: false, programs: [] };
  }
}

export const MIN_NODE_MAJOR = 24;

export interface Machine {
  uid: number | undefined;
  nodeVersion: string;
  missing: (programs: readonly Program[]) => Array<{ program: Program; package: string }>;
}

const thisMachine = (): Machine => ({ uid: process.getuid?.(), nodeVersion: process.versions.node, missing: missingPrograms });

/** The problems that stop `tfmesh lab <command>` on this machine, each with what to do; empty when none. */
export function prerequisiteProblems(command: string, need: Requirement, machine: Machine = thisMachine()): string[] {
  const problems: string[] = [];
  const major = Number(machine.nodeVersion.split(".")[0]);
  if (!(major >= MIN_NODE_MAJOR)) {
    problems.push(`Node.js ${machine.nodeVersion} is too old: tfmesh needs Node.js >= ${MIN_NODE_MAJOR} (for example \`npm install --save-dev node@${MIN_NODE_MAJOR}\` in your project, then run it with npx)`);
  }
  if (need.root && machine.uid !== undefined && machine.uid !== 0) {
    problems.push(`"tfmesh lab ${command}" must run as root: the lab builds network namespaces, veth pairs and bridges (run it with sudo)`);
  }
  const missing = machine.missing(need.programs);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((m) => m.package))];
    const programs = missing.map((m) => `${m.program} (${m.package})`).join(", ");
    problems.push(`"tfmesh lab ${command}" needs ${programs}, which ${missing.length === 1 ? "is" : "are"} not installed: apt-get install -y ${packages.join(" ")}`);
  }
  return problems;
}
