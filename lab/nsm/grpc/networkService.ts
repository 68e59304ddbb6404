// networkservice.NetworkService over the manager: Request builds or heals a connection, Close
// removes it. With security, the caller's path token is checked and only the identity that made a
// connection may refresh or close it (nsm/grpc/callSecurity.ts).
import { traceIfEnabled } from "../../../lib/trace.ts";
import type { ServiceImpl } from "@connectrpc/connect";
import type { NetworkService } from "../../../wire/nsm/gen/networkservice_pb.ts";
import { connectionFromProto, connectionToProto, requestFromProto } from "../../../wire/nsm/protoMapping.ts";
import type { Manager } from "../../../nsm/manager.ts";
import { acceptClose, acceptRequest } from "../../../nsm/grpc/callSecurity.ts";
import type { HopOptions } from "../../../nsm/grpc/callSecurity.ts";
import type { GrpcSecurity } from "../../../nsm/grpc/secureServer.ts";
import { unary } from "./errors.ts";

export function networkServiceImpl(manager: Manager, security: GrpcSecurity | undefined): ServiceImpl<typeof NetworkService> {
  const hop: HopOptions = { security, storedPath: (id) => manager.get(id)?.path };
  return {
    request: unary((req, ctx) =>
      traceIfEnabled("grpc", "request", () => req.connection?.id ?? "", async () => {
        const request = requestFromProto(req);
        const answer = await manager.request({ ...request, connection: acceptRequest(request.connection, ctx, hop) });
        return connectionToProto(answer);
      }),
    ),
    close: unary((c, ctx) =>
      traceIfEnabled("grpc", "close", () => c.id, async () => {
        const { id } = connectionFromProto(c);
        acceptClose(id, ctx, hop);
        await manager.close({ id });
        return {};
      }),
    ),
  };
}
