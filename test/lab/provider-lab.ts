// What the provider-level lab tests share: a private in-process lab that the providers reach
// through TFMESH_ENDPOINTS (restored afterwards), the lab's clients, and a TF network made outside
// Pulumi.
import { afterAll, beforeAll } from "vitest";
import { useConfig } from "../../provider/impl/context.ts";
import { labClients } from "../../harness/labClients.ts";
import type { LabClients } from "../../harness/labClients.ts";
import { LAB_TIMEOUT, startLab } from "../../harness/lab.ts";
import type { StartLabOptions, TestLab } from "../../harness/lab.ts";

export interface ProviderLab {
  lab: TestLab;
  api: LabClients;
}

/** Registers the file's lab hooks; the fields are set once its beforeAll has run. `kubernetes`: for tests of pods. */
export function providerLabFixture(opts: Pick<StartLabOptions, "kubernetes"> = {}): ProviderLab {
  const f = {} as ProviderLab;
  const saved = process.env.TFMESH_ENDPOINTS;
  beforeAll(async () => {
    f.lab = await startLab({ inProcess: true, ...opts });
    f.api = labClients(f.lab);
    process.env.TFMESH_ENDPOINTS = f.lab.endpointsFile;
    useConfig(undefined);
  }, LAB_TIMEOUT);
  afterAll(async () => {
    if (saved === undefined) delete process.env.TFMESH_ENDPOINTS;
    else process.env.TFMESH_ENDPOINTS = saved;
    useConfig(undefined);
    await f.lab?.stop();
  }, LAB_TIMEOUT);
  return f;
}

const IPAM = ["default-domain", "default-project", "default-network-ipam"];

/** A TF network made outside Pulumi in project admin, with one /24 (and the given annotations). */
export async function networkOutsidePulumi(
  api: LabClients,
  name: string,
  prefix: string,
  opts: { addrFromStart?: boolean; annotations?: Array<{ key: string; value: string }> } = {},
): Promise<string> {
  const subnet = { subnet: { ip_prefix: prefix, ip_prefix_len: 24 }, ...(opts.addrFromStart ? { addr_from_start: true } : {}) };
  const created = await api.tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", name],
    parent_type: "project",
    network_ipam_refs: [{ to: IPAM, attr: { ipam_subnets: [subnet] } }],
    ...(opts.annotations ? { annotations: { key_value_pair: opts.annotations } } : {}),
  });
  return created.uuid;
}
