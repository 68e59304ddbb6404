// Element: the answer to the client. The connection carries what was built: its addresses, routes
// and MAC (the context), the mechanism with the final interface name, the path through the
// forwarder, and state UP.
import type { ConnectionContext } from "../../../wire/nsm/api.ts";
import type { Element } from "../../chain.ts";
import type { PodCall } from "./podCall.ts";

export function answer<T extends PodCall>(name: string, context: (call: T) => ConnectionContext): Element<T> {
  return {
    name,
    request: (call, next) => {
      const c = call.connection;
      const segments = (c.path?.path_segments ?? []).filter((s) => s.name !== call.endpoint);
      return next.request({
        ...call,
        connection: {
          ...c,
          context: context(call),
          network_service_endpoint_name: call.endpoint,
          payload: call.service.payload,
          path: { index: c.path?.index ?? 0, path_segments: [...segments, { name: call.endpoint, id: c.id }] },
          state: "UP",
        },
      });
    },
    close: (call, next) => next.close(call),
  };
}
