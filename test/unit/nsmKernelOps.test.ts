// The forwarders' kernel changes go through lib/kernel's validated batch lines: nothing reaches
// `ip -batch` with a name, address, route or alias that lib/kernel would refuse for a single command.
import { describe, expect, it } from "vitest";
import { addressLine, bridgeAddLine, linkDelLine, linkMacLine, linkMoveLine, linkRenameLine, linkSetLines, routeLine, runStats, vethAddLine } from "../../lib/kernel/index.ts";
import { batchText } from "../../lib/kernel/batch.ts";
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

describe("veth and link lines", () => {
  it("make the pair with each end where it belongs, the first end up when asked", () => {
    expect(vethAddLine({ name: "nsm-1", mtu: 1450, mac: "02:AA:BB:CC:DD:EE", up: true }, { name: "tap1", netns: "t-k8s-1", mtu: 1450 })).toEqual([
      "link", "add", "nsm-1", "mtu", "1450", "address", "02:aa:bb:cc:dd:ee", "up", "type", "veth", "peer", "name", "tap1", "netns", "t-k8s-1", "mtu", "1450",
    ]);
    expect(linkRenameLine("tmp1", "nsm-2")).toEqual(["link", "set", "dev", "tmp1", "name", "nsm-2"]);
    expect(linkMacLine("nsm-2", "02:00:00:00:00:01")).toEqual(["link", "set", "dev", "nsm-2", "address", "02:00:00:00:00:01"]);
    expect(linkMoveLine("tap1", "t-pod-a")).toEqual(["link", "set", "dev", "tap1", "netns", "t-pod-a"]);
    expect(linkDelLine("nsm-2")).toEqual(["link", "del", "dev", "nsm-2"]);
  });

  it("validate names, namespaces, MACs and MTUs before they reach ip, naming the field", () => {
    expect(() => vethAddLine({ name: "nsm 1" }, { name: "tap1" })).toThrow(/interface name/);
    expect(() => vethAddLine({ name: "nsm-1" }, { name: "a-too-long-interface" })).toThrow(/15/);
    expect(() => vethAddLine({ name: "nsm-1" }, { name: "tap1", netns: "ns;reboot" })).toThrow(/netns/);
    expect(() => vethAddLine({ name: "nsm-1", mac: "02:00:00:00:00" }, { name: "tap1" })).toThrow(ValidationError);
    expect(() => vethAddLine({ name: "nsm-1", mtu: 70000 }, { name: "tap1" })).toThrow(/MTU/);
    expect(() => linkRenameLine("tmp1", "nsm\nlink del dev eth0")).toThrow(ValidationError);
    expect(() => linkMacLine("nsm-1", "02:00:00:00:00:0g")).toThrow(/mac/);
    expect(() => linkMoveLine("tap1", "../etc")).toThrow(/netns/);
    expect(() => linkDelLine("")).toThrow(/interface name/);
  });
});

describe("batch text", () => {
  it("is one line per command, tokens joined by spaces", () => {
    expect(batchText("ip", [linkDelLine("nsm-1"), addressLine("replace", "nsm-2", "10.1.1.3/24")])).toBe("link del dev nsm-1\naddr replace 10.1.1.3/24 dev nsm-2\n");
  });

  it("cannot be given another line, a quote, a space or an empty token inside a token", () => {
    for (const token of ["nsm-1\nlink del dev eth0", "nsm-1\rx", 'nsm"1', "nsm'1", "nsm 1", "nsm\t1", "", "a;b", "a\\"]) {
      expect(() => batchText("ip", [["link", "del", "dev", token]]), JSON.stringify(token)).toThrow(/unsafe token/);
    }
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

  it("build both of createVeth's batches before running either: a bad host-side value runs nothing", async () => {
    const before = runStats.count;
    await expect(
      linuxKernel.createVeth({ name: "tap1", netns: "t-node", alias: "two words", up: true }, { name: "nsm-1", netns: "t-pod-x", mac: "02:00:00:00:00:01", up: true }),
    ).rejects.toThrow(/alias/);
    await expect(linuxKernel.createVeth({ name: "tap1", netns: "t-node", master: "bridge\nlink" }, { name: "nsm-1", netns: "t-pod-x" })).rejects.toThrow(ValidationError);
    await expect(linuxKernel.createVeth({ name: "tap1", netns: "t node" }, { name: "nsm-1", netns: "t-pod-x" })).rejects.toThrow(/netns/);
    expect(runStats.count).toBe(before);
  });
});
