// Glance: images by id or name.
import { orUndefinedOn404 } from "../../lib/http/client.ts";
import { looksLikeUuid } from "../../lib/validate/uuid.ts";
import { AuthedService } from "./keystone.ts";
import type { ClientOptions, KeystoneSession } from "./keystone.ts";

export interface GlanceImage {
  id: string;
  name: string;
  status?: string;
}

export class GlanceClient {
  private readonly svc: AuthedService;

  constructor(session: KeystoneSession, opts: ClientOptions = {}) {
    this.svc = new AuthedService(session, async () => `${(await session.endpoint("image")).replace(/\/v2$/, "")}/v2`, opts);
  }

  async getImage(id: string): Promise<GlanceImage | undefined> {
    const res = await orUndefinedOn404(this.svc.request<GlanceImage>("GET", `/images/${encodeURIComponent(id)}`));
    return res?.body;
  }

  /** An image by uuid or by unique name. */
  async findImage(idOrName: string): Promise<GlanceImage | undefined> {
    if (looksLikeUuid(idOrName)) {
      const byId = await this.getImage(idOrName);
      if (byId) return byId;
    }
    const res = await this.svc.request<{ images: GlanceImage[] }>("GET", "/images", { query: { name: idOrName } });
    const images = (res.body.images ?? []).filter((i) => i.name === idOrName);
    if (images.length > 1) throw new Error(`image name "${idOrName}" is ambiguous: ${images.map((i) => i.id).join(", ")}; use the image uuid`);
    return images[0];
  }
}
