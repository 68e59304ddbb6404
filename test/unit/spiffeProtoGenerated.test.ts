// The generated TypeScript of the SPIFFE Workload API is committed (set-up runs no generator):
// regenerating it from wire/spiffe/proto with the pinned buf and protoc-gen-es must give the
// committed files, and the descriptors must be go-spiffe's (no package, its numbers).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { repoRoot } from "../../scripts/pulumiEnv.ts";
import { SpiffeWorkloadAPI, X509BundlesResponseSchema, X509SVIDResponseSchema, X509SVIDSchema } from "../../wire/spiffe/gen/workload_pb.ts";

const GEN = "wire/spiffe/gen";
const out = fs.mkdtempSync(path.join(os.tmpdir(), "spiffe-gen-"));

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

/** Every file under `dir`, relative to it, with its text. */
function tree(dir: string): Record<string, string> {
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return Object.fromEntries(files.map((e) => path.join(e.parentPath, e.name)).map((f) => [path.relative(dir, f), fs.readFileSync(f, "utf8")]));
}

it("npm run generate yields the committed wire/spiffe/gen", () => {
  const bin = path.join(repoRoot, "node_modules", ".bin");
  execFileSync(path.join(bin, "buf"), ["generate", "wire/spiffe/proto", "--template", "wire/spiffe/proto/buf.gen.yaml", "-o", out], {
    cwd: repoRoot,
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, BUF_CACHE_DIR: path.join(out, ".cache") },
    stdio: "pipe",
  });
  const generated = tree(path.join(out, GEN));
  expect(Object.keys(generated).sort()).toEqual(Object.keys(tree(path.join(repoRoot, GEN))).sort());
  expect(generated).toEqual(tree(path.join(repoRoot, GEN)));
});

it("is go-spiffe's Workload API: no package, its names and field numbers", () => {
  expect(SpiffeWorkloadAPI.typeName).toBe("SpiffeWorkloadAPI");
  expect(SpiffeWorkloadAPI.methods.map((m) => [m.name, m.methodKind])).toEqual([
    ["FetchX509SVID", "server_streaming"],
    ["FetchX509Bundles", "server_streaming"],
    ["FetchJWTSVID", "unary"],
    ["FetchJWTBundles", "server_streaming"],
    ["ValidateJWTSVID", "unary"],
  ]);
  const numbers = (fields: readonly { name: string; number: number }[]) => fields.map((f) => [f.name, f.number]);
  expect(numbers(X509SVIDResponseSchema.fields)).toEqual([["svids", 1], ["crl", 2], ["federated_bundles", 3]]);
  expect(numbers(X509SVIDSchema.fields)).toEqual([["spiffe_id", 1], ["x509_svid", 2], ["x509_svid_key", 3], ["bundle", 4], ["hint", 5]]);
  expect(numbers(X509BundlesResponseSchema.fields)).toEqual([["crl", 1], ["bundles", 2]]);
});
