// The kernel adapter: the only code that runs ip, bridge, sysctl, ping and arping.
export { run, runStats, KernelError, isExists, isMissing, missingPrograms, PROGRAMS } from "./run.ts";
export type { Program, RunOptions, RunResult } from "./run.ts";
export * as ip from "./ip.ts";
export * as bridge from "./bridge.ts";
export * as netns from "./netns.ts";
export * as sysctl from "./sysctl.ts";
export * from "./link.ts";
export { ping, parsePing } from "./ping.ts";
export type { PingOptions, PingResult } from "./ping.ts";
export { gratuitousArp } from "./arp.ts";
export { closeSessions, keepSessions } from "./session.ts";
export type { BatchOptions } from "./batch.ts";
