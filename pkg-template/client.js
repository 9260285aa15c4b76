// The StampedeClient users see: a plain class over the wasm client. It has no
// free() that could leave a client unusable, because the wasm memory of a
// client is released when the client is garbage collected.
import { WasmClient } from "./stampede_workflows.js";

export class StampedeClient {
  #client;

  constructor(options) {
    this.#client = new WasmClient(options);
  }

  sendIncomingEvent(event, options) {
    return this.#client.sendIncomingEvent(event, options);
  }

  storeWorkflowRun(workflowId, request, options) {
    return this.#client.storeWorkflowRun(workflowId, request, options);
  }
}

// The class keeps its name when the build minifies it.
Object.defineProperty(StampedeClient, "name", { value: "StampedeClient", configurable: true });
