// A PodAttachment on a pod that already has interfaces from NSM's annotation (config
// coexist:pod, coexist:networkService; coexist:interfaceName when the test asks for a name).
import * as pulumi from "@pulumi/pulumi";
import { PodAttachment } from "tfmesh/provider/podAttachment";

const config = new pulumi.Config("coexist");
const interfaceName = config.get("interfaceName");
const attachment = new PodAttachment("extra", {
  pod: config.require("pod"),
  networkService: config.require("networkService"),
  ...(interfaceName ? { interfaceName } : {}),
});

export const attached = { interfaceName: attachment.interfaceName, ip: attachment.ip, podUid: attachment.podUid, state: attachment.state };
