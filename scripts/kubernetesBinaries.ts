// setup.sh's step for the lab's control plane: the binaries the user has (TFMESH_<NAME>,
// KUBEBUILDER_ASSETS, PATH, at v1.37.x) are used as they are; the missing ones are built from the Go
// module proxy by tools/kubernetes (cached in .tools/bin), with its progress.
import { ensureBinaries } from "../lab/kube/binaries.ts";

const found = await ensureBinaries((line) => console.log(line));
for (const [name, b] of Object.entries(found)) console.log(`[setup]   ${name} ${b.version} (${b.source}: ${b.path})`);
