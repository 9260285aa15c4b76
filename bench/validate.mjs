// validateIncomingEvent calls per second on the typical event, in a process
// of its own: a warm-up, then timed batches; the median batch rate counts.
// Usage: node bench/validate.mjs ENTRY_URL BATCHES CALLS_PER_BATCH
import { EVENT } from "./lib/event.mjs";
import { median } from "./lib/stats.mjs";

const [entry, batches, callsPerBatch] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const { validateIncomingEvent } = await import(entry);

// Counting valid results keeps the calls from being optimised away.
function run(calls) {
  let valid = 0;
  for (let i = 0; i < calls; i += 1) {
    if (validateIncomingEvent(EVENT).valid === true) valid += 1;
  }
  if (valid !== calls) throw new Error(`only ${valid} of ${calls} calls found the typical event valid`);
}

run(Math.min(20_000, callsPerBatch));
const rates = [];
for (let batch = 0; batch < batches; batch += 1) {
  const start = performance.now();
  run(callsPerBatch);
  rates.push(callsPerBatch / ((performance.now() - start) / 1000));
}
console.log(JSON.stringify({ callsPerSecond: median(rates), rates }));
