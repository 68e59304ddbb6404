#!/usr/bin/env node
// tfmesh: the package's command.
//   tfmesh lab <command> [options]   start, stop, inspect and step into the embedded lab
//   tfmesh forwarder                 an NSM forwarder for this node, configured by its environment
//   tfmesh --version | help
import { readFileSync } from "node:fs";
import { prerequisiteProblems, requirementOf } from "./prerequisites.ts";

// Each command loads only its own modules: a forwarder (one per node and type) starts faster and
// smaller without the lab's, and `tfmesh lab` without the forwarder's.
/** Errors that are the user's input, shown without a stack. */
let isUsageError: (e: unknown) => boolean = () => false;

const USAGE = `usage: tfmesh <command>

commands
  lab <command> [options]   the embedded lab: up, down [--wipe], status, topology, reach, exec
                            ("tfmesh lab help" for its options)
  forwarder                 an NSM forwarder (tungsten or kernel) for this node, configured by
                            NSM_NAME, NSM_CONNECT_TO, NSM_LISTEN_ON, NSM_LABELS, NODE_NAME, TF_API_URL,
                            VROUTER_AGENT_URL, ... (see components/k8s/README.md)
  version                   the installed tfmesh version
  help                      this text
`;

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL(import.meta.url.endsWith(".ts") ? "../package.json" : "../../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "lab": {
      const sub = rest[0];
      const problems = sub === undefined ? [] : prerequisiteProblems(sub, requirementOf(sub, { wipe: rest.includes("--wipe") }));
      if (problems.length > 0) {
        process.stderr.write(`tfmesh: cannot run "lab ${sub}" here:\n${problems.map((p) => `  - ${p}`).join("\n")}\n`);
        return 2;
      }
      const lab = await import("../lab/cli.ts");
      isUsageError = lab.isLabUsageError;
      return lab.main(rest);
    }
    case "forwarder": {
      const [{ runForwarder }, { ConfigError }] = await Promise.all([import("../nsm/forwarderd/program.ts"), import("../nsm/forwarderd/config.ts")]);
      isUsageError = (e) => e instanceof ConfigError;
      return runForwarder(process.env);
    }
    case "version":
    case "--version":
    case "-v":
      process.stdout.write(`${version()}\n`);
      return 0;
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return 0;
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    default:
      process.stderr.write(`tfmesh: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    const known = isUsageError(e);
    process.stderr.write(`tfmesh: ${known || !process.env.TFMESH_DEBUG ? e.message : (e.stack ?? e.message)}\n`);
    process.exit(known ? 2 : 1);
  },
);
