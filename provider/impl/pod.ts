// The Pod resource of tfmesh 0.2 (a pod of the lab's own pod API), retired in 0.3: pods are
// Kubernetes pods now. This module stays because a 0.2 stack's state names it (its provider text
// imports "tfmesh/provider/impl/pod"), so `pulumi up` of the new program and `pulumi destroy` can
// still drop those resources: the 0.3 lab has no pod API and removed the pods it held when it first
// started (pod namespaces no Kubernetes pod owns), so there is nothing left to read or delete.
// Declaring one again fails, saying what to use instead.
import type * as pulumi from "@pulumi/pulumi";
import { configure } from "./context.ts";
import { withPlainErrors } from "./plainErrors.ts";

export const RETIRED = "the Pod resource was removed in tfmesh 0.3: pods are Kubernetes pods now. Declare the pod with @pulumi/kubernetes (new k8s.core.v1.Pod(..., { provider: kubernetesProvider() }), or AttachedPod) and pass its name and namespace to PodAttachment";

async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  return { inputs: news, failures: [{ property: "name", reason: RETIRED }] };
}

async function diff(): Promise<pulumi.dynamic.DiffResult> {
  return { changes: false };
}

async function create(): Promise<pulumi.dynamic.CreateResult> {
  throw new Error(RETIRED);
}

/** A 0.2 lab pod does not survive the 0.3 lab's first start: refresh drops it from the state. */
async function read(): Promise<pulumi.dynamic.ReadResult> {
  return { id: "" };
}

async function update(): Promise<pulumi.dynamic.UpdateResult> {
  throw new Error(RETIRED);
}

/** Nothing to delete: the 0.3 lab has no pod API, and removed the pods of 0.2's when it started. */
async function remove(): Promise<void> {}

export const provider: pulumi.dynamic.ResourceProvider = withPlainErrors({ configure, check, diff, create, read, update, delete: remove });
