// Clients of every wire API of a lab, as the admin user: what e2e tests and benchmarks drive and
// check the lab through. NSM is its gRPC API (the lab's nsmGrpc endpoint), as an NSM client
// (nsc) speaks it.
import { NsmGrpcClient } from "../wire/nsm/grpcClient.ts";
import { OpenStackClient } from "../wire/openstack/index.ts";
import { TfClient } from "../wire/tf.ts";
import type { LabEndpoints } from "../lab/endpoints.ts";
import { labOpenStackSettings } from "../lab/keystoneSession.ts";
import type { TestLab } from "./lab.ts";

export interface LabClients {
  tf: TfClient;
  openstack: OpenStackClient;
  nsm: NsmGrpcClient;
}

export function labClients(lab: TestLab): LabClients {
  return endpointClients(lab.endpoints);
}

/** The same clients from a lab's endpoints.json (its admin credentials included). */
export function endpointClients(endpoints: LabEndpoints, opts: { retries?: number } = {}): LabClients {
  const openstack = new OpenStackClient(labOpenStackSettings(endpoints));
  // One Keystone session (one token cache) for OpenStack and TF.
  const token = () => openstack.keystone.token();
  return {
    openstack,
    tf: new TfClient({ baseUrl: endpoints.tf, token, ...opts }),
    nsm: new NsmGrpcClient(endpoints.nsmGrpc, { retries: opts.retries ?? 3, unreachableHint: "is the lab daemon running? (npx tfmesh lab up)", spiffe: endpoints.spiffe }),
  };
}
