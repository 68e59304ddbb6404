// Clients of every wire API of a lab, as the admin user: what e2e tests and benchmarks drive and
// check the lab through.
import { NsmClient } from "../wire/nsm/client.ts";
import { OpenStackClient } from "../wire/openstack/index.ts";
import { PodsClient } from "../wire/pods.ts";
import { TfClient } from "../wire/tf.ts";
import type { TestLab } from "./lab.ts";

export interface LabClients {
  tf: TfClient;
  openstack: OpenStackClient;
  nsm: NsmClient;
  pods: PodsClient;
}

export function labClients(lab: TestLab): LabClients {
  const c = lab.config.credentials;
  const openstack = new OpenStackClient({
    authUrl: lab.endpoints.keystone,
    userName: c.username,
    password: c.password,
    tenantName: c.project,
    userDomainName: c.domain,
    projectDomainName: c.domain,
    region: undefined,
  });
  return {
    openstack,
    tf: new TfClient({ baseUrl: lab.endpoints.tf, token: () => openstack.keystone.token() }),
    nsm: new NsmClient(lab.endpoints.nsm),
    pods: new PodsClient(lab.endpoints.pods),
  };
}
