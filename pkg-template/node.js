// Node.js, Deno and Bun entry: the wasm is read from disk and compiled
// synchronously on import, which takes about a millisecond for this module.
import { readFileSync } from "node:fs";
import { initSync } from "./stampede_workflows.js";

initSync({ module: readFileSync(new URL("./stampede_workflows_bg.wasm", import.meta.url)) });

export {
  sendIncomingEvent,
  storeWorkflowRun,
  validateIncomingEvent,
  validateWorkflowRun,
} from "./stampede_workflows.js";
export { StampedeClient } from "./client.js";
export { StampedeError } from "./stampede-error.js";
