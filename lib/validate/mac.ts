// MAC addresses in the colon form every API here uses ("02:aa:bb:cc:dd:ee").

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function checkMac(value: unknown): string | undefined {
  if (typeof value !== "string" || !MAC.test(value)) {
    return `MAC address must look like "02:aa:bb:cc:dd:ee", got ${JSON.stringify(value) ?? String(value)}`;
  }
  if ((parseInt(value.slice(0, 2), 16) & 1) === 1) return `MAC address ${value} is a multicast address`;
  return undefined;
}

