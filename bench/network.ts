// A TF virtual network for a benchmark to put VMs and NSM connections on.
import type { TfClient } from "../wire/tf.ts";

export interface BenchNetwork {
  uuid: string;
  fqName: string;
  cidr: string;
}

/**
 * The longest prefix length (at most /24, at least /16, so "10.x.0.0" stays aligned) whose subnet
 * holds `hosts` addresses besides network, gateway, service address and broadcast.
 */
export function prefixLengthFor(hosts: number): number {
  for (let len = 24; len >= 16; len--) if (2 ** (32 - len) - 4 >= hosts) return len;
  throw new Error(`${hosts} addresses do not fit a /16; use a smaller --n`);
}

/** Creates project admin's VN `name` with one subnet `<address>/<len>` (through the TF API, as Neutron or the provider would). */
export async function createNetwork(tf: TfClient, name: string, address: string, len: number): Promise<BenchNetwork> {
  const ipam = ["default-domain", "admin", `ipam-${name}`];
  await tf.create("network-ipam", { fq_name: ipam, parent_type: "project" });
  const vn = await tf.create("virtual-network", {
    fq_name: ["default-domain", "admin", name],
    parent_type: "project",
    network_ipam_refs: [{ to: ipam, attr: { ipam_subnets: [{ subnet: { ip_prefix: address, ip_prefix_len: len } }] } }],
  });
  return { uuid: vn.uuid, fqName: `default-domain:admin:${name}`, cidr: `${address}/${len}` };
}
