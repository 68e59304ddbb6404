// TF's api-server answers errors as plain text with an HTTP status; TfError carries both.

export class TfError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "TfError";
    this.status = status;
  }
}

/** Python's repr of a list of strings, as TF prints fq_names in messages: ['default-domain', 'admin', 'red']. */
export function pyList(items: readonly unknown[]): string {
  return `[${items.map((i) => (typeof i === "string" ? `'${i.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'` : String(i))).join(", ")}]`;
}
