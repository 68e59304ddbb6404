// The provider object Pulumi serializes into every resource's state. It must stay tiny: each
// method only imports the real implementation at call time, through this package's own name
// ("tfmesh/provider/impl/<kind>", resolved by package.json "exports"), and forwards the call.
// It captures nothing but that module specifier, so state holds a few hundred bytes of shim,
// never the implementation, and changing the implementation does not change the state text.
import type * as pulumi from "@pulumi/pulumi";

// `import()` spelled through Function: tools that rewrite import expressions in source files
// (vitest's module runner does, for component tests with mocks) would otherwise replace it with
// a loader function that cannot be serialized. Node runs it as a plain dynamic import.
const load = (specifier: string): Promise<{ provider: pulumi.dynamic.ResourceProvider }> =>
  new Function("specifier", "return import(specifier)")(specifier);

export function dynamicProvider(implModule: string): pulumi.dynamic.ResourceProvider {
  return {
    async configure(req) {
      const { provider } = await load(implModule);
      if (provider.configure) await provider.configure(req);
    },
    async check(olds, news) {
      return (await load(implModule)).provider.check!(olds, news);
    },
    async diff(id, olds, news) {
      return (await load(implModule)).provider.diff!(id, olds, news);
    },
    async create(inputs) {
      return (await load(implModule)).provider.create(inputs);
    },
    async read(id, props) {
      return (await load(implModule)).provider.read!(id, props);
    },
    async update(id, olds, news) {
      return (await load(implModule)).provider.update!(id, olds, news);
    },
    async delete(id, props) {
      return (await load(implModule)).provider.delete!(id, props);
    },
  };
}
