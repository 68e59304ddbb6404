// The generated TypeScript of NSM's protos is committed (set-up runs no generator): regenerating
// it from wire/nsm/proto with the pinned buf and protoc-gen-es must give the committed files.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { repoRoot } from "../../scripts/pulumiEnv.ts";

const GEN = "wire/nsm/gen";
const out = fs.mkdtempSync(path.join(os.tmpdir(), "nsm-gen-"));

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

/** Every file under `dir`, relative to it, with its text. */
function tree(dir: string): Record<string, string> {
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return Object.fromEntries(files.map((e) => path.join(e.parentPath, e.name)).map((f) => [path.relative(dir, f), fs.readFileSync(f, "utf8")]));
}

it("npm run generate yields the committed wire/nsm/gen", () => {
  const bin = path.join(repoRoot, "node_modules", ".bin");
  execFileSync(path.join(bin, "buf"), ["generate", "wire/nsm/proto", "--template", "wire/nsm/proto/buf.gen.yaml", "-o", out], {
    cwd: repoRoot,
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, BUF_CACHE_DIR: path.join(out, ".cache") },
    stdio: "pipe",
  });
  const generated = tree(path.join(out, GEN));
  expect(Object.keys(generated).sort()).toEqual(Object.keys(tree(path.join(repoRoot, GEN))).sort());
  expect(generated).toEqual(tree(path.join(repoRoot, GEN)));
});
