// Finds what a package's exports map serves to a browser and to Node.js, the
// way a bundler or Node's resolver would for `import "name"`.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const BROWSER_CONDITIONS = ["browser", "import", "default"];
export const NODE_CONDITIONS = ["node", "import", "default"];

// The file a package at `dir` serves for ".", given the active conditions.
export function resolveEntry(dir, conditions) {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  let target = manifest.exports;
  if (target && typeof target === "object" && !Array.isArray(target) && Object.keys(target).some((key) => key.startsWith("."))) {
    target = target["."];
  }
  const file = target === undefined ? (manifest.module ?? manifest.main ?? "index.js") : pick(target, conditions);
  if (typeof file !== "string") {
    throw new Error(`${dir}/package.json exports nothing for the conditions ${conditions.join(", ")}`);
  }
  return resolve(dir, file);
}

// Conditions are matched in the order the exports object lists them.
function pick(target, conditions) {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const found = pick(item, conditions);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (target === null || typeof target !== "object") return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (!conditions.includes(condition)) continue;
    const found = pick(value, conditions);
    if (found !== undefined) return found;
  }
  return undefined;
}
