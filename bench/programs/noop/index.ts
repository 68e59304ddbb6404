// `noop:count` dynamic resources whose provider does no work: what `pulumi up` / `destroy` of a
// stack that size costs in the engine, language host and dynamic provider plugin alone.
import * as pulumi from "@pulumi/pulumi";

const count = new pulumi.Config("noop").requireNumber("count");

// Captures nothing, so the serialized provider text is just these two methods.
const noopProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: `noop-${inputs.index}`, outs: inputs };
  },
  async delete() {},
};

class Noop extends pulumi.dynamic.Resource {
  constructor(name: string, index: number) {
    super(noopProvider, name, { index }, undefined, "bench", "Noop");
  }
}

for (let i = 0; i < count; i++) new Noop(`noop-${i}`, i);

export const resources = count;
