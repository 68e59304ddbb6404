// The absolute paths a kernel tool may be started from: the allow-listed programs in the
// directories lib/kernel/run.ts resolves them in. Checked again where the process is started.
const ALLOWED = /^\/(usr\/)?s?bin\/(ip|bridge|sysctl|ping|arping)$/;

export const isAllowedTool = (file: string): boolean => ALLOWED.test(file);
