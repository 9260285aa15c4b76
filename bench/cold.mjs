// One cold start, run in a fresh process by bench/run.mjs: the time from
// before importing the entry to after the first validateIncomingEvent call,
// which covers loading the modules and instantiating any wasm.
// Usage: node bench/cold.mjs ENTRY_URL
import { EVENT } from "./lib/event.mjs";

const start = performance.now();
const { validateIncomingEvent } = await import(process.argv[2]);
const result = validateIncomingEvent(EVENT);
const elapsedMs = performance.now() - start;

if (result?.valid !== true) throw new Error(`the typical event did not validate: ${JSON.stringify(result)}`);
console.log(JSON.stringify({ elapsedMs }));
