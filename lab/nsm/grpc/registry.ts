// registry.NetworkServiceRegistry and registry.NetworkServiceEndpointRegistry over the lab's
// registry. Find answers the records the query matches and ends, or with `watch` goes on with
// every change of a matching record: registered or refreshed (deleted false), unregistered or
// expired (deleted true). Register and Unregister answer once the store has the change durably
// (the lab's CRs are written behind the registry's cache).
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { NetworkServiceEndpointRegistry, NetworkServiceRegistry } from "../../../wire/nsm/gen/registry_pb.ts";
import { NetworkServiceEndpointSchema, NetworkServiceSchema } from "../../../wire/nsm/gen/registry_pb.ts";
import { endpointFromProto, endpointToProto, serviceFromProto, serviceToProto } from "../../../wire/nsm/protoMapping.ts";
import type { Manager } from "../../../nsm/manager.ts";
import type { Registry, RegistryChange } from "../../../nsm/registry.ts";
import { ChangeStream } from "./changeStream.ts";
import { streamed, unary } from "./errors.ts";
import { claimRegistration } from "../../../nsm/grpc/callSecurity.ts";
import type { GrpcSecurity } from "../../../nsm/grpc/secureServer.ts";
import { matchesEndpoint, matchesService } from "./registryQuery.ts";

/** The records there now, then with `watch` each change, as the responses of those `matches` lets through. */
function find<T, M, R>(opts: {
  watch: boolean;
  ctx: HandlerContext;
  list: () => T[];
  subscribe: (push: (change: RegistryChange<T>) => void) => () => void;
  toProto: (record: T) => M;
  matches: (message: M) => boolean;
  respond: (message: M, deleted: boolean) => R;
}): AsyncGenerator<R> {
  return streamed(
    (async function* () {
      const changes = opts.watch ? new ChangeStream(opts.subscribe, opts.ctx.signal) : undefined;
      try {
        for (const record of opts.list()) {
          const m = opts.toProto(record);
          if (opts.matches(m)) yield opts.respond(m, false);
        }
        for await (const { record, deleted } of changes ?? []) {
          const m = opts.toProto(record);
          if (opts.matches(m)) yield opts.respond(m, deleted);
        }
      } finally {
        changes?.end();
      }
    })(),
  );
}

export function serviceRegistryImpl(registry: Registry, manager: Manager, security: GrpcSecurity | undefined): ServiceImpl<typeof NetworkServiceRegistry> {
  const o = { security };
  return {
    register: unary(async (s, ctx) => {
      const record = serviceFromProto(s);
      const path_ids = claimRegistration(`network service ${s.name}`, registry.getService(s.name), ctx, o);
      const service = registry.registerService({ ...record, ...(path_ids ? { path_ids } : {}) });
      await registry.serviceWritten(service.name);
      return serviceToProto(service);
    }),
    find: (query, ctx) => {
      const template = query.networkService ?? create(NetworkServiceSchema);
      return find({
        watch: query.watch,
        ctx,
        list: () => registry.listServices(),
        subscribe: (push) => registry.watchServices(push),
        toProto: serviceToProto,
        matches: (m) => matchesService(template, m),
        respond: (networkService, deleted) => ({ networkService, deleted }),
      });
    },
    unregister: unary(async (s, ctx) => {
      claimRegistration(`network service ${s.name}`, registry.getService(s.name), ctx, o);
      manager.unregisterService(s.name);
      await registry.serviceWritten(s.name);
      return {};
    }),
  };
}

export function endpointRegistryImpl(registry: Registry, security: GrpcSecurity | undefined): ServiceImpl<typeof NetworkServiceEndpointRegistry> {
  const o = { security };
  return {
    register: unary(async (e, ctx) => {
      const record = endpointFromProto(e);
      const path_ids = claimRegistration(`network service endpoint ${e.name}`, registry.getEndpoint(e.name), ctx, o);
      const endpoint = registry.registerEndpoint({ ...record, ...(path_ids ? { path_ids } : {}) });
      await registry.endpointWritten(endpoint.name);
      return endpointToProto(endpoint);
    }),
    find: (query, ctx) => {
      const template = query.networkServiceEndpoint ?? create(NetworkServiceEndpointSchema);
      return find({
        watch: query.watch,
        ctx,
        list: () => registry.listEndpoints(),
        subscribe: (push) => registry.watchEndpoints(push),
        toProto: endpointToProto,
        matches: (m) => matchesEndpoint(template, m),
        respond: (networkServiceEndpoint, deleted) => ({ networkServiceEndpoint, deleted }),
      });
    },
    unregister: unary(async (e, ctx) => {
      claimRegistration(`network service endpoint ${e.name}`, registry.getEndpoint(e.name), ctx, o);
      registry.unregisterEndpoint(e.name);
      await registry.endpointWritten(e.name);
      return {};
    }),
  };
}
