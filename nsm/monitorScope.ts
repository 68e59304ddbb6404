// Which connections a MonitorConnections call sees, as NSM's api defines its MonitorScopeSelector:
// a connection of one of the selector's network services (any, when none are listed) whose path
// holds the selector's path segments one after the other, where an empty name, id or token
// matches anything (no segments: any path).
import type { Connection, MonitorScopeSelector, PathSegment } from "../wire/nsm/api.ts";

type SegmentPattern = Pick<PathSegment, "name" | "id" | "token">;

const fits = (pattern: SegmentPattern, s: PathSegment): boolean =>
  (!pattern.name || pattern.name === s.name) && (!pattern.id || pattern.id === s.id) && (!pattern.token || pattern.token === s.token);

function holdsSegments(c: Connection, patterns: readonly SegmentPattern[]): boolean {
  if (patterns.length === 0) return true;
  const segments = c.path?.path_segments ?? [];
  for (let start = 0; start + patterns.length <= segments.length; start++) {
    if (patterns.every((p, j) => fits(p, segments[start + j]!))) return true;
  }
  return false;
}

export function inScope(c: Connection, selector: MonitorScopeSelector): boolean {
  const services = selector.network_services ?? [];
  if (services.length > 0 && !services.includes(c.network_service)) return false;
  return holdsSegments(c, selector.path_segments ?? []);
}
