// Taking over an object that exists outside Pulumi (dynamic resources cannot be imported,
// pulumi#16175): `adopt: true` makes create find the object by its name and manage it instead of
// creating one; delete then leaves it in place unless `deleteAdopted: true`. The rules every
// adopting resource shares live here; each resource finds and compares its own kind of object.
import { isUnknown, inputsOf } from "./inputs.ts";
import type { Failures } from "./inputs.ts";

export interface AdoptionInputs {
  adopt?: boolean;
  deleteAdopted?: boolean;
}

function optionalBoolean(f: Failures, property: string, v: unknown): boolean | undefined {
  if (v === undefined || v === null || isUnknown(v)) return undefined;
  if (typeof v !== "boolean") {
    f.add(property, `must be true or false, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

/**
 * Validates adopt/deleteAdopted. `what` names the object ("virtual network", "server") for the
 * messages. Returns the inputs to keep (unknown values pass through as they are).
 */
export function checkAdoption(f: Failures, news: Record<string, unknown>, what: string): AdoptionInputs & Record<string, unknown> {
  const adopt = optionalBoolean(f, "adopt", news.adopt);
  const deleteAdopted = optionalBoolean(f, "deleteAdopted", news.deleteAdopted);
  if (deleteAdopted !== undefined && news.adopt !== true && !isUnknown(news.adopt)) {
    f.add("deleteAdopted", "applies only with adopt: true (what Pulumi created, destroy always deletes)");
  }
  if (adopt === true && (news.name === undefined || news.name === null || news.name === "")) {
    f.add("name", `adopt: true needs the name of the existing ${what} to take over`);
  }
  return { adopt: isUnknown(news.adopt) ? (news.adopt as boolean) : adopt, deleteAdopted: isUnknown(news.deleteAdopted) ? (news.deleteAdopted as boolean) : deleteAdopted };
}

/** Output key: true when create took the object over instead of creating it. */
export const ADOPTED = "adopted";

/** Whether delete must leave the object of these outputs in place (adopted, and not told to delete it). */
export function leavesInPlace(props: Record<string, unknown>): boolean {
  return props[ADOPTED] === true && inputsOf(props).deleteAdopted !== true;
}
