// Glance v2 for the lab: version list and the one built-in image.
import type http from "node:http";
import { ApiError, createJsonServer } from "../../lib/http/server.ts";
import type { ApiRequest } from "../../lib/http/server.ts";
import { IMAGES } from "./catalogData.ts";
import type { Image } from "./catalogData.ts";
import { glanceError, hostUrl, requireToken } from "./common.ts";
import type { TokenValidator } from "./common.ts";
import { filterItems } from "./listQuery.ts";

function imageView(i: Image): Record<string, unknown> {
  return {
    id: i.id,
    name: i.name,
    status: "active",
    visibility: "public",
    protected: false,
    os_hidden: false,
    disk_format: "qcow2",
    container_format: "bare",
    min_disk: 0,
    min_ram: 0,
    size: i.size,
    virtual_size: null,
    checksum: i.checksum,
    os_hash_algo: "sha512",
    os_hash_value: null,
    owner: null,
    tags: [],
    created_at: i.created_at,
    updated_at: i.created_at,
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: "/v2/schemas/image",
  };
}

export function createGlanceServer(validate: TokenValidator | null): http.Server {
  const versions = (req: ApiRequest) => ({
    versions: ["v2.15", "v2.9", "v2.0"].map((id, n) => ({ id, status: n === 0 ? "CURRENT" : "SUPPORTED", links: [{ rel: "self", href: `${hostUrl(req)}/v2/` }] })),
  });
  return createJsonServer({
    name: "glance",
    renderError: glanceError,
    before: requireToken(validate, (req) => req.path === "/" || req.path === "/versions"),
    routes: [
      { method: "GET", pattern: "/", handler: (req) => ({ status: 300, body: versions(req) }) },
      { method: "GET", pattern: "/versions", handler: (req) => ({ body: versions(req) }) },
      {
        method: "GET",
        pattern: "/v2/images",
        handler: (req) => ({ body: { images: filterItems(IMAGES.map(imageView), req.query), first: "/v2/images", schema: "/v2/schemas/images" } }),
      },
      {
        method: "GET",
        pattern: "/v2/images/:id",
        handler: (req) => {
          const image = IMAGES.find((i) => i.id === req.params.id);
          if (!image) throw new ApiError(404, `No image found with ID ${req.params.id}`);
          return { body: imageView(image) };
        },
      },
    ],
  });
}
