// Cloudflare Workers entry: workerd and wrangler import a .wasm file as a
// compiled WebAssembly.Module, because Workers may not compile wasm from bytes.
import module from "./stampede_workflows_bg.wasm";
import { initSync } from "./stampede_workflows.js";

initSync({ module });

export {
  sendIncomingEvent,
  storeWorkflowRun,
  validateIncomingEvent,
  validateWorkflowRun,
} from "./stampede_workflows.js";
export { StampedeClient } from "./client.js";
export { StampedeError } from "./stampede-error.js";
