// The dependency direction of the tree, and the check `npm test` runs on it
// (test/unit/import-layers.test.ts). A module may import its own folder and folders of a lower
// layer, never one beside or above it:
//
//   lib  <-  wire  <-  nsm | provider  <-  lab | components  <-  cli  <-  scripts  <-  harness  <-  test | bench | examples
//
// plus the rules a layer number cannot say: the lab, being the systems a program talks to, reaches
// them only through wire/, never through provider/; inside lab/, vrouter/ may use dataplane's
// plumbing but not the other way round, and lab/compute/ (which puts the two together) sits above both; only provider/, components/ and what sits above cli/ may
// load Pulumi.
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

export const LAYERS: Record<string, number> = {
  lib: 0,
  wire: 1,
  nsm: 2,
  provider: 2,
  lab: 3,
  components: 3,
  cli: 4,
  scripts: 5,
  harness: 6,
  test: 7,
  bench: 7,
  examples: 7,
};

/** Lower layers a folder must still not import. */
const FORBIDDEN_BELOW: Record<string, { to: string; why: string }> = {
  lab: { to: "provider", why: "the lab is the systems a program talks to: it uses the wire clients in wire/, not the Pulumi provider" },
};

/** Sub-folders that must not import another sub-folder of the same folder. */
const FORBIDDEN_INSIDE: Array<{ from: string; to: string; why: string }> = [
  { from: "lab/dataplane/", to: "lab/vrouter/", why: "the vRouter agents drive the data plane's plumbing, not the other way round" },
  { from: "lab/dataplane/", to: "lab/compute/", why: "lab/compute puts the data plane and the agents together; neither depends on it" },
  { from: "lab/vrouter/", to: "lab/compute/", why: "lab/compute puts the data plane and the agents together; neither depends on it" },
];

const PULUMI_ALLOWED_BELOW = new Set(["provider", "components"]);
const PULUMI_FROM_RANK = LAYERS.cli! + 1;

export interface Violation {
  file: string;
  imports: string;
  reason: string;
}

/** The top folder of a repository-relative path ("lab/tf/x.ts" -> "lab"); root files have none. */
function topFolder(rel: string): string | undefined {
  const i = rel.indexOf("/");
  return i < 0 ? undefined : rel.slice(0, i);
}

/** Checks one file's import specifiers; `file` is relative to the repository root. */
export function checkImports(file: string, specifiers: readonly string[]): Violation[] {
  const from = topFolder(file);
  if (from === undefined || !(from in LAYERS)) return [];
  const rank = LAYERS[from]!;
  const out: Violation[] = [];
  for (const spec of specifiers) {
    if (spec.startsWith(".")) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const to = topFolder(target);
      if (to === undefined || to === from) {
        for (const rule of FORBIDDEN_INSIDE) {
          if (file.startsWith(rule.from) && target.startsWith(rule.to)) out.push({ file, imports: spec, reason: `${rule.from} must not import ${rule.to}: ${rule.why}` });
        }
        continue;
      }
      if (!(to in LAYERS)) {
        out.push({ file, imports: spec, reason: `${to}/ is not a layer of the tree (scripts/importLayers.ts)` });
        continue;
      }
      const toRank = LAYERS[to]!;
      if (FORBIDDEN_BELOW[from]?.to === to) out.push({ file, imports: spec, reason: `${from}/ must not import ${to}/: ${FORBIDDEN_BELOW[from]!.why}` });
      else if (toRank === rank) out.push({ file, imports: spec, reason: `${from}/ and ${to}/ are one layer: neither may import the other` });
      else if (toRank > rank) out.push({ file, imports: spec, reason: `${from}/ (layer ${rank}) must not import ${to}/ (layer ${toRank}), which sits above it` });
    } else if (spec === "@pulumi/pulumi" || spec.startsWith("@pulumi/") || spec.startsWith("tfmesh/")) {
      if (spec.startsWith("tfmesh/") && rank < LAYERS.test!) out.push({ file, imports: spec, reason: "only programs (examples, test programs) import the package by name; the tree imports by path" });
      if (spec.startsWith("@pulumi/") && !PULUMI_ALLOWED_BELOW.has(from) && rank < PULUMI_FROM_RANK) out.push({ file, imports: spec, reason: `${from}/ must not load Pulumi: only provider/, components/ and the layers above cli/ do` });
    }
  }
  return out;
}

function sourceFiles(root: string, dir: string): string[] {
  const here = path.join(root, dir);
  if (!fs.existsSync(here)) return [];
  return fs.readdirSync(here, { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : sourceFiles(root, rel);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
  });
}

/** Every import of every .ts file under the layer folders that goes against the direction. */
export function importViolations(root: string): Violation[] {
  return Object.keys(LAYERS).flatMap((folder) =>
    sourceFiles(root, folder).flatMap((file) => {
      const info = ts.preProcessFile(fs.readFileSync(path.join(root, file), "utf8"), true, true);
      return checkImports(file, [...new Set(info.importedFiles.map((f) => f.fileName))]);
    }),
  );
}
