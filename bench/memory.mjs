// Memory over 50,000 calls, in a process of its own run with --expose-gc.
// It reads heapUsed after a forced collection, and the size of every wasm
// memory the client instantiates while it is imported. Watching WebAssembly's
// constructors finds those memories in any wasm client, with no export needed.
// Node's fetch instantiates a wasm HTTP parser of its own on the first
// request, after the import, so that one is left out. Figures are
// taken after the import, after a warm-up, after 50,000
// validateIncomingEvent calls and after 50,000 sendIncomingEvent calls
// against the local server at concurrency 64.
// Usage: node --expose-gc bench/memory.mjs JSON, with entry, baseUrl, calls, warmupCalls.
import { setImmediate as tick } from "node:timers/promises";
import { checkResponse, EVENT, TOKEN } from "./lib/event.mjs";

const settings = JSON.parse(process.argv[2]);
if (typeof globalThis.gc !== "function") throw new Error("run bench/memory.mjs with --expose-gc");

const memories = new Set();
const stopWatching = watchWasmMemories();
const subject = await import(settings.entry);
stopWatching();
const send =
  typeof subject.StampedeClient === "function"
    ? ((client) => () => client.sendIncomingEvent(EVENT))(new subject.StampedeClient({ baseUrl: settings.baseUrl, accessToken: TOKEN }))
    : () => subject.sendIncomingEvent(EVENT, { baseUrl: settings.baseUrl, accessToken: TOKEN });
let requests = 0;

const figures = {};
figures.import = await snapshot();

await validateCalls(settings.warmupCalls);
await sendCalls(settings.warmupCalls);
figures.warm = await snapshot();

await validateCalls(settings.calls);
figures.validated = await snapshot();

await sendCalls(settings.calls);
figures.sent = await snapshot();

console.log(JSON.stringify({ ...figures, requests, wasmMemories: memories.size }));

function validateCalls(calls) {
  for (let i = 0; i < calls; i += 1) {
    if (subject.validateIncomingEvent(EVENT).valid !== true) throw new Error("the typical event did not validate");
  }
}

async function sendCalls(calls) {
  const workers = 64;
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < calls) {
        next += 1;
        requests += 1;
        checkResponse(await send());
      }
    }),
  );
}

// heapUsed after collections that also let finalizers run, and the wasm
// memories' sizes in bytes (null for a client without wasm).
async function snapshot() {
  for (let i = 0; i < 3; i += 1) {
    globalThis.gc();
    await tick();
  }
  const wasm = memories.size === 0 ? null : [...memories].reduce((sum, memory) => sum + memory.buffer.byteLength, 0);
  return { heapUsed: process.memoryUsage().heapUsed, wasm };
}

// Returns a function that puts WebAssembly's own functions back.
function watchWasmMemories() {
  const noteMemories = (instance, imports) => {
    for (const value of [...Object.values(instance?.exports ?? {}), ...Object.values(imports ?? {}).flatMap((module) => Object.values(module ?? {}))]) {
      if (value instanceof WebAssembly.Memory) memories.add(value);
    }
  };
  const { instantiate, instantiateStreaming, Instance } = WebAssembly;
  WebAssembly.instantiate = async function (source, imports) {
    const result = await instantiate.call(this, source, imports);
    noteMemories(result instanceof Instance ? result : result.instance, imports);
    return result;
  };
  if (instantiateStreaming) {
    WebAssembly.instantiateStreaming = async function (source, imports) {
      const result = await instantiateStreaming.call(this, source, imports);
      noteMemories(result.instance, imports);
      return result;
    };
  }
  WebAssembly.Instance = new Proxy(Instance, {
    construct(target, args, newTarget) {
      const instance = Reflect.construct(target, args, newTarget);
      noteMemories(instance, args[1]);
      return instance;
    },
  });
  return () => Object.assign(WebAssembly, { instantiate, instantiateStreaming, Instance });
}
