// The smoke-test dynamic resource. Its provider object is a thin shim: each method imports the
// implementation through this package's own "exports" when the engine calls it, so the text
// Pulumi serializes into state stays tiny and does not change when the implementation does.
import * as pulumi from "@pulumi/pulumi";
import type { MarkerInputs, MarkerOutputs } from "./markerProvider.ts";

const implementation = "tfmesh/harness/smoke/markerProvider";

export const markerShim: pulumi.dynamic.ResourceProvider<MarkerInputs, MarkerOutputs> = {
  async check(olds, news) {
    return (await import(implementation)).check(olds, news);
  },
  async diff(id, olds, news) {
    return (await import(implementation)).diff(id, olds, news);
  },
  async create(inputs) {
    return (await import(implementation)).create(inputs);
  },
  async read(id, props) {
    return (await import(implementation)).read(id, props);
  },
  async update(id, olds, news) {
    return (await import(implementation)).update(id, olds, news);
  },
  async delete(id) {
    return (await import(implementation)).remove(id);
  },
};

export interface MarkerArgs {
  path: pulumi.Input<string>;
  text: pulumi.Input<string>;
}

export class Marker extends pulumi.dynamic.Resource {
  declare readonly path: pulumi.Output<string>;
  declare readonly text: pulumi.Output<string>;
  declare readonly size: pulumi.Output<number>;

  constructor(name: string, args: MarkerArgs, opts?: pulumi.CustomResourceOptions) {
    super(markerShim, name, { ...args, size: undefined }, opts, "smoke", "Marker");
  }
}
