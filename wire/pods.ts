// Pod runtime client: the lab's stand-in for a kubelet (docs/contracts.md, "Pod runtime API").
import { HttpClient, isStatus, orUndefinedOn404 } from "../lib/http/client.ts";
import type { ClientOptions } from "./openstack/index.ts";
import { tokenHeaders } from "./tf.ts";
import type { TfTokenProvider } from "./tf.ts";

export interface PodsClientOptions extends ClientOptions {
  /** Called before every request; its token (from the lab's Keystone) goes into X-Auth-Token. */
  token?: TfTokenProvider;
}

export interface PodInfo {
  name: string;
  node: string;
  netns: string;
  uid: string;
  eth0: { ip: string; prefixLength: number; mac: string };
  /** "Running", or "Pending" while its namespace is being made. */
  status: string;
  /** What its creator wrote on it (metadata.annotations); absent from runtimes before 0.3. */
  annotations?: Record<string, string>;
}

export class PodsClient {
  readonly http: HttpClient;

  constructor(baseUrl: string, opts: PodsClientOptions = {}) {
    const { token, ...rest } = opts;
    this.http = new HttpClient({ baseUrl, ...rest, ...(token ? { headers: tokenHeaders(token) } : {}) });
  }

  /** Creates the pod; 409 (a pod of that name exists) is thrown as HttpError. */
  async create(spec: { name: string; node?: string; annotations?: Record<string, string> }): Promise<PodInfo> {
    return (await this.http.post<PodInfo>("/pods", spec, { expect: [200, 201] })).body;
  }

  async get(name: string): Promise<PodInfo | undefined> {
    return (await orUndefinedOn404(this.http.get<PodInfo>(`/pods/${encodeURIComponent(name)}`)))?.body;
  }

  async list(): Promise<PodInfo[]> {
    const body = (await this.http.get<unknown>("/pods")).body;
    if (Array.isArray(body)) return body as PodInfo[];
    const inner = body && typeof body === "object" ? (body as { pods?: unknown }).pods : undefined;
    return Array.isArray(inner) ? (inner as PodInfo[]) : [];
  }

  /** Deletes the pod (its NSM connections are closed first by the runtime); absent = deleted. */
  async delete(name: string): Promise<void> {
    try {
      await this.http.delete(`/pods/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
  }
}
