// The forwarders' kernel changes go through lib/kernel's validated batch lines: nothing reaches
// `ip -batch` with a name, address, route or alias that lib/kernel would refuse for a single command.
import { describe, expect, it } from "vitest";
import { addressLine, bridgeAddLine, linkSetLines, routeLine } from "../../lib/kernel/index.ts";
import { ValidationError } from "../../lib/validate/errors.ts";
import { linuxKernel } from "../../nsm/forwarders/common/kernelOps.ts";

describe("lib/kernel batch lines", () => {
  it("build one `ip` command per change, in the order the kernel needs them", () => {
    expect(linkSetLines("nsm-1", { mtu: 1450, alias: "nsm:c1", master: "nsk-1", up: true })).toEqual([
      ["link", "set", "dev", "nsm-1", "mtu", "1450"],
      ["link", "set", "dev", "nsm-1", "alias", "nsm:c1"],
      ["link", "set", "dev", "nsm-1", "master", "nsk-1"],
      ["link", "set", "dev", "nsm-1", "up"],
    ]);
    expect(addressLine("replace", "nsm-1", "10.1.1.3/24")).toEqual(["addr", "replace", "10.1.1.3/24", "dev", "nsm-1"]);
    expect(routeLine("replace", { dst: "10.2.0.0/16", via: "10.1.1.254", dev: "nsm-1" })).toEqual(["route", "replace", "10.2.0.0/16", "via", "10.1.1.254", "dev", "nsm-1"]);
    expect(bridgeAddLine("nsk-1")).toEqual(["link", "add", "nsk-1", "type", "bridge"]);
  });

  it("refuse what the single-command helpers refuse, naming the field", () => {
    expect(() => linkSetLines("nsm 1", { up: true })).toThrow(ValidationError);
    expect(() => linkSetLines("nsm-1", { alias: "two words" })).toThrow(/alias/);
    expect(() => linkSetLines("nsm-1", { mtu: 20 })).toThrow(/MTU/);
    expect(() => linkSetLines("nsm-1", { master: "a-very-long-bridge-name" })).toThrow(ValidationError);
    expect(() => addressLine("replace", "nsm-1", "10.1.1.300/24")).toThrow(ValidationError);
    expect(() => routeLine("replace", { dst: "10.2.0.0/16", via: "gateway" })).toThrow(/route gateway/);
  });
});

describe("the forwarders' kernel operations", () => {
  it("validate before running anything, so a bad value is a ValidationError, not a half-applied batch", async () => {
    await expect(linuxKernel.configureIp("nsm-1", "t-pod-x", { remove: [], address: "10.1.1.3/33", routes: [] })).rejects.toThrow(ValidationError);
    await expect(linuxKernel.configureIp("nsm-1", "t-pod-x", { remove: ["bad"], address: "10.1.1.3/24", routes: [] })).rejects.toThrow(ValidationError);
    await expect(
      linuxKernel.configureIp("nsm-1", "t-pod-x", { remove: [], address: "10.1.1.3/24", routes: [{ dst: "10.1.1.0/24", dev: "nsm-1", src: "me" }] }),
    ).rejects.toThrow(/route source/);
    await expect(linuxKernel.configureLink("nsm-1", "t-pod-x", { alias: "nsm:c 1" })).rejects.toThrow(/alias/);
    await expect(linuxKernel.ensureBridge("bridge with space", "t-node", "10.60.0.1/24")).rejects.toThrow(ValidationError);
  });
});
