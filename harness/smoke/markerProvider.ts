// Implementation of the smoke-test "Marker" resource: a text file on disk. It is loaded by the
// provider shim in marker.ts at call time (dynamic import of a package export), so it can import
// anything and is never serialized into state.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute } from "node:path";
import type * as pulumi from "@pulumi/pulumi";

export interface MarkerInputs {
  /** Absolute path of the file the marker owns. */
  path: string;
  /** Text written into the file. */
  text: string;
}

export interface MarkerOutputs extends MarkerInputs {
  /** Bytes written, to show an output computed by create/update. */
  size: number;
}

export async function check(_olds: MarkerInputs, news: MarkerInputs): Promise<pulumi.dynamic.CheckResult<MarkerInputs>> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  if (typeof news.path !== "string" || !isAbsolute(news.path)) {
    failures.push({ property: "path", reason: "must be an absolute file path" });
  }
  if (typeof news.text !== "string") {
    failures.push({ property: "text", reason: "must be a string" });
  }
  return { inputs: news, failures };
}

export async function diff(_id: string, olds: MarkerOutputs, news: MarkerInputs): Promise<pulumi.dynamic.DiffResult> {
  const replaces = olds.path !== news.path ? ["path"] : [];
  const changes = replaces.length > 0 || olds.text !== news.text;
  return { changes, replaces, deleteBeforeReplace: true };
}

async function writeMarker(inputs: MarkerInputs): Promise<MarkerOutputs> {
  await mkdir(dirname(inputs.path), { recursive: true });
  await writeFile(inputs.path, inputs.text);
  return { path: inputs.path, text: inputs.text, size: Buffer.byteLength(inputs.text) };
}

export async function create(inputs: MarkerInputs): Promise<pulumi.dynamic.CreateResult<MarkerOutputs>> {
  return { id: inputs.path, outs: await writeMarker(inputs) };
}

export async function read(id: string, props: MarkerOutputs): Promise<pulumi.dynamic.ReadResult<MarkerOutputs>> {
  let text: string;
  try {
    text = await readFile(id, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {}; // gone: refresh drops it
    throw err;
  }
  const outs = { path: id, text, size: Buffer.byteLength(text) };
  return { id, props: outs, inputs: { ...props, text } };
}

export async function update(_id: string, _olds: MarkerOutputs, news: MarkerInputs): Promise<pulumi.dynamic.UpdateResult<MarkerOutputs>> {
  return { outs: await writeMarker(news) };
}

export async function remove(id: string): Promise<void> {
  await rm(id, { force: true });
}
