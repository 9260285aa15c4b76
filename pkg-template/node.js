// Node.js, Deno and Bun entry: the wasm is read from disk and compiled
// synchronously on import. fs comes through createRequire, because importing
// node:fs as an ES module builds a wrapper of all its exports, which took
// 1.5 ms of a 6.4 ms cold start in Node.js 20; node:module took 0.3 ms.
import { createRequire } from "node:module";
import { initSync } from "./stampede_workflows.js";

const { readFileSync } = createRequire(import.meta.url)("node:fs");

initSync({ module: readFileSync(new URL("./stampede_workflows_bg.wasm", import.meta.url)) });

export {
  sendIncomingEvent,
  storeWorkflowRun,
  validateIncomingEvent,
  validateWorkflowRun,
} from "./stampede_workflows.js";
export { StampedeClient } from "./client.js";
export { StampedeError } from "./stampede-error.js";
