// grpc.health.v1.Health: SERVING for the whole server ("") and for each service it serves, as
// grpc-health-probe and Kubernetes' gRPC probes ask; NOT_FOUND for another service, as the
// protocol says. Watch is left unimplemented, which the protocol allows.
import { Code, ConnectError } from "@connectrpc/connect";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Health } from "../../wire/nsm/gen/grpc/health/v1/health_pb.ts";
import { HealthCheckResponse_ServingStatus } from "../../wire/nsm/gen/grpc/health/v1/health_pb.ts";

const SERVING = { status: HealthCheckResponse_ServingStatus.SERVING };

export function healthImpl(services: readonly string[]): Partial<ServiceImpl<typeof Health>> {
  const known = new Set(["", ...services]);
  return {
    check: (req) => {
      if (!known.has(req.service)) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return SERVING;
    },
    list: () => ({ statuses: Object.fromEntries([...known].map((s) => [s, SERVING])) }),
  };
}
