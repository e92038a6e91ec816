// depends-on: a kubectl-hooks orderer written in JavaScript.
//
// A hook annotated `hooks.kubectl-hooks.dev/after: "Job/db-init, ConfigMap/seed"` runs
// after the hooks it names, whatever their weights. Everything else keeps Helm's order:
// among the hooks that are ready, the one Helm would run first goes next (a stable
// topological sort). A cycle is an error naming it. Built into a component with
// componentize-js by `scripts/build-policies.sh`.
//
// Settings (all optional):
//   annotation: the annotation to read (default "hooks.kubectl-hooks.dev/after")
//   missing:    "ignore" (default: a dependency that is not a hook of this event is
//               skipped, with a log line) or "error"

import { log } from "kubectl-hooks:policy/host@0.1.0";

const DEFAULT_ANNOTATION = "hooks.kubectl-hooks.dev/after";

function settingsFrom(text) {
  const settings = text.trim() === "" ? {} : JSON.parse(text) ?? {};
  if (typeof settings !== "object" || Array.isArray(settings)) {
    throw "invalid settings: expected a mapping";
  }
  for (const key of Object.keys(settings)) {
    if (key !== "annotation" && key !== "missing") {
      throw `invalid settings: unknown field \`${key}\`, expected \`annotation\` or \`missing\``;
    }
  }
  const annotation = settings.annotation ?? DEFAULT_ANNOTATION;
  const missing = settings.missing ?? "ignore";
  if (typeof annotation !== "string" || annotation === "") {
    throw "invalid settings: `annotation` must be a non-empty string";
  }
  if (missing !== "ignore" && missing !== "error") {
    throw `invalid settings: \`missing\` is \`${missing}\`; use \`ignore\` or \`error\``;
  }
  return { annotation, missing };
}

function dependencies(hook, annotation) {
  const manifest = JSON.parse(hook.manifest);
  const value = manifest?.metadata?.annotations?.[annotation];
  if (value === undefined) return [];
  if (typeof value !== "string") {
    throw `${hook.id}: \`${annotation}\` must be a string of hook ids`;
  }
  return value.split(",").map((id) => id.trim()).filter((id) => id !== "");
}

// The ids on a cycle among the hooks not yet placed, for the error message.
function findCycle(waiting, after) {
  const start = waiting[0];
  const path = [start];
  const seen = new Set([start]);
  let current = start;
  for (;;) {
    const next = after.get(current).find((id) => waiting.includes(id));
    if (seen.has(next)) {
      return [...path.slice(path.indexOf(next)), next];
    }
    path.push(next);
    seen.add(next);
    current = next;
  }
}

export const order = {
  order(ctx, hooks) {
    const { annotation, missing } = settingsFrom(ctx.settings);
    const ids = new Set(hooks.map((h) => h.id));
    const after = new Map();
    for (const hook of hooks) {
      const known = [];
      for (const id of dependencies(hook, annotation)) {
        if (id === hook.id) {
          throw `${hook.id}: \`${annotation}\` names the hook itself`;
        }
        if (ids.has(id)) {
          known.push(id);
        } else if (missing === "error") {
          throw `${hook.id}: \`${annotation}\` names \`${id}\`, which is not a hook of ${ctx.event}`;
        } else {
          log("warn", `${hook.id}: \`${id}\` is not a hook of ${ctx.event}; ignored`);
        }
      }
      after.set(hook.id, known);
    }
    const placed = new Set();
    const result = [];
    let waiting = hooks.map((h) => h.id);
    while (waiting.length > 0) {
      const ready = waiting.find((id) => after.get(id).every((dep) => placed.has(dep)));
      if (ready === undefined) {
        throw `\`${annotation}\` annotations form a cycle: ${findCycle(waiting, after).join(" → ")}`;
      }
      placed.add(ready);
      result.push(ready);
      waiting = waiting.filter((id) => id !== ready);
    }
    return result;
  },
};
