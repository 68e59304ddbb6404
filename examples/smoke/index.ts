// Minimal program: one dynamic resource, to prove the toolchain (CLI, language host, dynamic
// provider plugin, Node 24 type stripping) end to end on the local backend.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Marker } from "tfmesh/harness/smoke/marker";

const config = new pulumi.Config("smoke");
const dir = process.env.TFMESH_SMOKE_DIR ?? path.resolve(import.meta.dirname, "../../.state/smoke");
const text = config.get("text") ?? "hello from tfmesh";

const marker = new Marker("marker", { path: path.join(dir, `${pulumi.getStack()}.txt`), text });

export const markerPath = marker.path;
export const markerSize = marker.size;
