// A stand-in for a test process: starts a lab daemon bound to this process's life, prints
// "READY <prefix> <stateDir>" once healthy, then idles until killed. Used to prove that a test
// process dying (even by SIGKILL) does not leave the lab's namespaces behind.
//   node harness/labParent.ts <name> <prefix> <stateDir>
import { resolveInstance } from "../lab/instance.ts";
import { spawnDaemon, waitHealthy } from "../lab/lifecycle.ts";

const [name, prefix, stateDir] = process.argv.slice(2);
if (!name || !prefix || !stateDir) throw new Error("usage: labParent.ts <name> <prefix> <stateDir>");
const config = await resolveInstance({ name, prefix, stateDir, ports: "auto" });
const child = spawnDaemon(config, { exitWithParent: process.pid });
await waitHealthy(config, { pid: child.pid });
process.stdout.write(`READY ${config.prefix} ${config.stateDir}\n`);
setInterval(() => {}, 60_000);
