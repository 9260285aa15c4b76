// Browser and default entry. The wasm is fetched beside this file and
// instantiated while the module is imported (top-level await), so every
// export, the synchronous validators included, works as soon as the import
// resolves. Import the package dynamically to defer the download.
import init from "./stampede_workflows.js";

await init({ module_or_path: new URL("./stampede_workflows_bg.wasm", import.meta.url) });

export {
  sendIncomingEvent,
  storeWorkflowRun,
  validateIncomingEvent,
  validateWorkflowRun,
} from "./stampede_workflows.js";
export { StampedeClient } from "./client.js";
export { StampedeError } from "./stampede-error.js";
