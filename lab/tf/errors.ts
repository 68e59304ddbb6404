// TF's api-server answers errors as plain text with an HTTP status; TfError carries both, and
// being an ApiError, the TF server answers it as it is.
import { ApiError } from "../../lib/http/server.ts";

export class TfError extends ApiError {
  constructor(status: number, message: string) {
    super(status, message);
    this.name = "TfError";
  }
}

/** Python's repr of a list of strings, as TF prints fq_names in messages: ['default-domain', 'admin', 'red']. */
export function pyList(items: readonly unknown[]): string {
  return `[${items.map((i) => (typeof i === "string" ? `'${i.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'` : String(i))).join(", ")}]`;
}
