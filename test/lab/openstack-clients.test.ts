// Smoke test with the real Python clients (openstacksdk and TF's vnc_api) against the in-process
// lab. scripts/setup.sh installs them, pinned, in the venv .tools/python; TFMESH_PYTHON points to
// another Python that has them. Without them (set-up could not reach PyPI) the tests are skipped,
// and the reason is printed, never skipped silently.
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CREDS, startLab, stopLab } from "./tf-harness.ts";
import type { Lab } from "./tf-harness.ts";

const VENV_PYTHON = fileURLToPath(new URL("../../.tools/python/bin/python", import.meta.url));
const PYTHON = process.env.TFMESH_PYTHON ?? VENV_PYTHON;

/** Why the clients cannot run, or undefined when they can. */
function missingPythonClients(): string | undefined {
  const log = fileURLToPath(new URL("../../.tools/python-install.log", import.meta.url));
  const fix = process.env.TFMESH_PYTHON
    ? `TFMESH_PYTHON=${PYTHON} needs: pip install -r scripts/python-clients.txt`
    : `bash scripts/setup.sh installs them${existsSync(log) ? ` (its last attempt: ${log})` : ""}, or set TFMESH_PYTHON`;
  if (!process.env.TFMESH_PYTHON && !existsSync(VENV_PYTHON)) return `no .tools/python: ${fix}`;
  try {
    execFileSync(PYTHON, ["-c", "import openstack, vnc_api.vnc_api"], { stdio: "pipe", timeout: 30_000 });
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    const why = stderr.split("\n").at(-1) || (err as Error).message;
    return `${PYTHON} cannot import openstack and vnc_api (${why}): ${fix}`;
  }
}

const missing = missingPythonClients();
if (missing) console.warn(`real-client tests skipped: ${missing}`);

const OPENSTACKSDK = `
import sys, openstack
ks, password = sys.argv[1], sys.argv[2]
conn = openstack.connect(auth_url=ks + '/v3', username='admin', password=password, project_name='admin',
    user_domain_name='Default', project_domain_name='Default', region_name='RegionOne', identity_api_version='3')
net = conn.network.create_network(name='sdk-net')
sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr='10.90.0.0/24')
img = conn.image.find_image('cirros-0.6.2')
fl = conn.compute.find_flavor('m1.tiny')
srv = conn.compute.create_server(name='sdk-vm', image_id=img.id, flavor_id=fl.id, networks=[{'uuid': net.id}])
srv = conn.compute.wait_for_server(srv, interval=0.1, wait=30)
print('STATUS', srv.status)
print('ADDR', srv.addresses['sdk-net'][0]['addr'])
print('HOST', srv.compute_host)
conn.compute.delete_server(srv)
conn.compute.wait_for_delete(srv, interval=0.1, wait=30)
conn.network.delete_subnet(sub)
conn.network.delete_network(net)
print('LEFT', len(list(conn.compute.servers())), len([n for n in conn.network.networks() if n.name == 'sdk-net']))
`;

const VNC_API = `
import sys
from vnc_api.vnc_api import VncApi
from vnc_api.gen.resource_client import VirtualNetwork, InstanceIp, NetworkIpam
from vnc_api.gen.resource_xsd import VnSubnetsType, IpamSubnetType, SubnetType
host, port, ks_port, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
api = VncApi(username='admin', password=password, tenant_name='admin', domain_name='Default', api_server_host=host, api_server_port=port,
    auth_host=host, auth_port=ks_port, auth_protocol='http', auth_url='/v3/auth/tokens', auth_type='keystone', conf_file='/dev/null')
proj = api.project_read(fq_name=['default-domain', 'admin'])
ipam = api.network_ipam_read(fq_name=['default-domain', 'default-project', 'default-network-ipam'])
vn = VirtualNetwork('vnc-net', parent_obj=proj)
vn.add_network_ipam(ipam, VnSubnetsType([IpamSubnetType(subnet=SubnetType('10.91.0.0', 24))]))
api.virtual_network_create(vn)
vn = api.virtual_network_read(id=vn.uuid)
print('NETID', vn.get_virtual_network_network_id())
print('GW', vn.get_network_ipam_refs()[0]['attr'].ipam_subnets[0].default_gateway)
iip = InstanceIp(name='vnc-iip')
iip.set_virtual_network(vn)
api.instance_ip_create(iip)
print('IP', api.instance_ip_read(id=iip.uuid).get_instance_ip_address())
api.instance_ip_delete(id=iip.uuid)
api.virtual_network_delete(id=vn.uuid)
print('LEFT', len(api.virtual_networks_list(filters={'display_name': 'vnc-net'})['virtual-networks']))
`;

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

const lines = (out: string) => Object.fromEntries(out.trim().split("\n").map((l) => [l.split(" ")[0], l.slice(l.indexOf(" ") + 1)]));

describe("real clients", () => {
  let lab: Lab | undefined;
  beforeAll(async () => {
    if (!missing) lab = await startLab();
  });
  afterAll(async () => {
    if (lab) await stopLab(lab);
  });

  it("openstacksdk creates a network, boots a server to ACTIVE and deletes it all", async ({ skip }) => {
    if (!lab) return skip(missing);
    const out = lines(await run(["-c", OPENSTACKSDK, lab.url.keystone, CREDS.password]));
    expect(out.STATUS).toBe("ACTIVE");
    expect(out.ADDR).toBe("10.90.0.3");
    expect(["compute-1", "compute-2"]).toContain(out.HOST);
    expect(out.LEFT).toBe("0 0");
  }, 150_000);

  it("vnc_api authenticates with Keystone and drives the TF config API", async ({ skip }) => {
    if (!lab) return skip(missing);
    const tf = new URL(lab.url.tf);
    const ks = new URL(lab.url.keystone);
    const out = lines(await run(["-c", VNC_API, "127.0.0.1", tf.port, ks.port, CREDS.password]));
    expect(Number(out.NETID)).toBeGreaterThan(0);
    expect(out.GW).toBe("10.91.0.254");
    expect(out.IP).toBe("10.91.0.252");
    expect(out.LEFT).toBe("0");
  }, 150_000);
});
