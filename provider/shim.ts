// The provider object Pulumi serializes into every resource's state. It must stay tiny: each
// method only imports the real implementation at call time, through this package's own name
// ("tfmesh/provider/impl/<kind>", resolved by package.json "exports"), and forwards the call.
// It captures nothing but that module specifier, so state holds a few hundred bytes of shim,
// never the implementation, and changing the implementation does not change the state text.
import type * as pulumi from "@pulumi/pulumi";

export function dynamicProvider(implModule: string): pulumi.dynamic.ResourceProvider {
  return {
    async configure(req) {
      const m = await import(implModule);
      if (m.provider.configure) await m.provider.configure(req);
    },
    async check(olds, news) {
      return (await import(implModule)).provider.check(olds, news);
    },
    async diff(id, olds, news) {
      return (await import(implModule)).provider.diff(id, olds, news);
    },
    async create(inputs) {
      return (await import(implModule)).provider.create(inputs);
    },
    async read(id, props) {
      return (await import(implModule)).provider.read(id, props);
    },
    async update(id, olds, news) {
      return (await import(implModule)).provider.update(id, olds, news);
    },
    async delete(id, props) {
      return (await import(implModule)).provider.delete(id, props);
    },
  };
}
