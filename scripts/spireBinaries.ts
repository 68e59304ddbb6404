// setup.sh's step for the lab's SPIRE: spire-server and spire-agent the user has (TFMESH_SPIRE_SERVER,
// TFMESH_SPIRE_AGENT, PATH, 1.10 or newer) are used as they are; missing ones are built from the Go
// module proxy by tools/spire (cached in .tools/bin), with its progress.
import { ensureSpireBinaries } from "../lab/spire/binaries.ts";

const found = await ensureSpireBinaries((line) => console.log(line));
for (const [name, b] of Object.entries(found)) console.log(`[setup]   ${name} ${b.version} (${b.source}: ${b.path})`);
