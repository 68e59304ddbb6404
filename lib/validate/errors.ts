// The error every validator throws: which field, and what is wrong with it, in words a user can act on.

export class ValidationError extends Error {
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = "ValidationError";
    this.field = field;
    this.reason = reason;
  }
}

/** Turns a check (reason or undefined) into an assertion that throws ValidationError. */
export function assertWith<T>(check: (value: unknown) => string | undefined, value: unknown, field: string): T {
  const reason = check(value);
  if (reason !== undefined) throw new ValidationError(field, reason);
  return value as T;
}
