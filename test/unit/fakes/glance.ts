// Fake Glance v2, as the lab's (lab/openstack/glance.ts): the images in state.images, listed with
// Glance's list query (?name=...) and read by id in Glance's image shape, 404 in Glance's error shape.
import type http from "node:http";
import { ApiError, createJsonServer } from "../../../lib/http/server.ts";
import type { ApiRequest } from "../../../lib/http/server.ts";
import { glanceError } from "../../../lab/openstack/common.ts";
import { filterItems } from "../../../lab/openstack/listQuery.ts";

export interface FakeImage {
  id: string;
  name: string;
  status: string;
}

export interface GlanceFakeState {
  images: FakeImage[];
}

export const CIRROS: FakeImage = { id: "11111111-2222-4333-8444-555555555555", name: "cirros", status: "active" };

const CREATED = "2024-01-01T00:00:00Z";
/** What Glance shows of an image besides its id, name and status: the values of the lab's one image. */
const IMAGE_ATTRIBUTES = {
  visibility: "public", protected: false, os_hidden: false, disk_format: "qcow2", container_format: "bare", min_disk: 0, min_ram: 0,
  size: 21430272, virtual_size: null, checksum: "c8fc807773e5354afe61636071771906", os_hash_algo: "sha512", os_hash_value: null,
  owner: null, tags: [], created_at: CREATED, updated_at: CREATED,
};

export const imageView = (i: FakeImage): Record<string, unknown> => ({
  id: i.id,
  name: i.name,
  status: i.status,
  ...IMAGE_ATTRIBUTES,
  self: `/v2/images/${i.id}`,
  file: `/v2/images/${i.id}/file`,
  schema: "/v2/schemas/image",
});

export function fakeGlance(state: GlanceFakeState, requireToken: (req: ApiRequest) => void): http.Server {
  return createJsonServer({
    name: "fake-glance",
    renderError: glanceError,
    before: requireToken,
    routes: [
      {
        method: "GET",
        pattern: "/v2/images",
        handler: (req) => ({ body: { images: filterItems(state.images.map(imageView), req.query), first: "/v2/images", schema: "/v2/schemas/images" } }),
      },
      {
        method: "GET",
        pattern: "/v2/images/:id",
        handler: (req) => {
          const image = state.images.find((i) => i.id === req.params.id);
          if (!image) throw new ApiError(404, `No image found with ID ${req.params.id}`);
          return { body: imageView(image) };
        },
      },
    ],
  });
}
