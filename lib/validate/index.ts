// One import for every validator.
export * from "./errors.ts";
export * from "./cidr.ts";
export * from "./names.ts";
export * from "./fqname.ts";
export * from "./mac.ts";
export * from "./uuid.ts";
