// Memory check of the built package (pkg/node.js): many calls in one Node
// process, with the wasm memory, the wasm-bindgen externref table and the JS
// heap sampled after forced garbage collections. Run it through
// scripts/memory, which passes --expose-gc; `--help` lists the flags.
//
// The calls go to the mock API, started in this process on 127.0.0.1, so the
// whole path is measured: request building in wasm, Node's fetch, reading the
// body through the package's size cap, and the StampedeError of a failure.
// The mock records no requests here (maxRecordedRequests: 0), so that its own
// bookkeeping does not grow the heap. `--fetch fake` swaps the mock for a
// fetch function in this process that returns its response at once, to run
// faster and to measure the package without Node's HTTP stack.
//
// The calls cycle through five kinds of call an application makes:
// - client.sendIncomingEvent;
// - client.storeWorkflowRun;
// - the top-level sendIncomingEvent, which reads the client options anew on
//   every call;
// - an invalid event, which gets a validation rejection;
// - a call with the signal of one AbortController that lives for the whole
//   run and never aborts. Once every call has settled, that signal must have
//   no abort listener left. The package adds one abort listener to a signal,
//   whatever the number of calls in flight that share it, so Node prints no
//   MaxListenersExceededWarning.
// A seeded 10% of the requests get a 503 with "Retry-After: 0", and the client
// has maxRetries: 1, so both the retry and the error paths run.
//
// Samples are taken after forced GCs at the start, after the warm-up and at
// every tenth of the run. The run fails (exit code 1) when, between the
// post-warm-up sample and the end:
// - the wasm memory grew by any amount (it grows in 64 KiB pages and never
//   shrinks, so growth after warm-up means wasm allocations pile up);
// - the externref table grew (JS values kept alive from wasm);
// - heapUsed rose more than --heap-tolerance-kib (default 1024 KiB);
// - an abort listener was left on the lasting signal.
// The rise from the start to the post-warm-up sample is printed but not
// judged, because it comes from one-time costs such as compiled code and the
// keep-alive connections. With --fetch fake it also includes the fetch
// classes that Node loads at their first use. The mock run has used fetch
// before the start sample.
import { getEventListeners } from "node:events";
import { realpathSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

// pkg/node.js instantiates the wasm while it is imported, with
// `new WebAssembly.Instance`. Watching that constructor during the import
// reaches the instance's memory without changing the package.
const instances = [];
const { Instance } = WebAssembly;
WebAssembly.Instance = new Proxy(Instance, {
  construct(target, args, newTarget) {
    const instance = Reflect.construct(target, args, newTarget);
    instances.push(instance);
    return instance;
  },
});
const { StampedeClient, StampedeError, sendIncomingEvent } = await import("../../pkg/node.js");
WebAssembly.Instance = Instance;
import { startMockServer } from "../../www/mock/server.mjs";

const TOKEN = "memory-token-8c2d51";
const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const FAULT_RATE = 0.1;

const USAGE = `Usage: node --expose-gc scripts/lib/memory.mjs [options]

Makes many calls with the package and checks that the wasm memory and the
JS heap after GC stay flat once warmed up.

Options:
  --calls N               calls after the warm-up (default 50000)
  --warmup N              calls before the post-warm-up sample (default 5000)
  --concurrency N         calls in flight at once (default 20)
  --fetch mock|fake       the mock API over HTTP, or an in-process fake fetch (default mock)
  --heap-tolerance-kib N  allowed rise of heapUsed after GC from the post-warm-up
                          sample to the end (default 1024)
  --settle-ms N           a call not settled this long fails the run (default 70000:
                          two attempts of the package's default 30 s timeout, plus 10 s)
  --json                  also print the figures as one line "MEMORY_RESULT {...}"
  --help                  print this help`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      calls: { type: "string", default: "50000" },
      warmup: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "20" },
      fetch: { type: "string", default: "mock" },
      "heap-tolerance-kib": { type: "string", default: "1024" },
      "settle-ms": { type: "string", default: "70000" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return null;
  const integer = (name, min, max) => {
    const text = values[name];
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new TypeError(`--${name} must be a whole number from ${min} to ${max}, but it is "${text}".`);
    }
    return value;
  };
  if (values.fetch !== "mock" && values.fetch !== "fake") {
    throw new TypeError(`--fetch must be "mock" or "fake", but it is "${values.fetch}".`);
  }
  return {
    calls: integer("calls", 10, 100_000_000),
    warmup: integer("warmup", 10, 100_000_000),
    concurrency: integer("concurrency", 1, 10_000),
    fetch: values.fetch,
    heapToleranceKiB: integer("heap-tolerance-kib", 0, 10_000_000),
    settleMs: integer("settle-ms", 1, 2_147_483_647),
    json: values.json,
  };
}

// ---------------------------------------------------------------------------
// Measuring

// Returns the wasm's memory and its table of JavaScript values. The build
// shortens export names, so both are found by their types.
function wasmExports() {
  const values = instances.length === 1 ? Object.values(instances[0].exports) : [];
  const memory = values.find((value) => value instanceof WebAssembly.Memory);
  if (!memory) {
    throw new Error(`pkg/node.js created ${instances.length} wasm instances, not one with a memory; the package no longer instantiates with new WebAssembly.Instance.`);
  }
  return { memory, externrefs: values.find((value) => value instanceof WebAssembly.Table) };
}

/** Runs several GCs with turns of the event loop between them, so that FinalizationRegistry callbacks, which free wasm objects, run too. */
async function collectGarbage() {
  for (let round = 0; round < 4; round += 1) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function sample(label, calls, exports) {
  await collectGarbage();
  const usage = process.memoryUsage();
  return {
    label,
    calls,
    wasmBytes: exports.memory.buffer.byteLength,
    externrefs: exports.externrefs?.length ?? null,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    rss: usage.rss,
  };
}

// ---------------------------------------------------------------------------
// Calling

// A generator of its own (not the mock's) for the fake fetch, seeded so runs repeat.
function seededRandom(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

// Returns what the mock would: the event or run echoed with 200, or a 503.
function fakeFetch() {
  const random = seededRandom(1);
  return async (url, init) => {
    await Promise.resolve();
    if (random() < FAULT_RATE) {
      return new Response('{"message":"Service Unavailable"}', {
        status: 503,
        headers: { "content-type": "application/json", "retry-after": "0" },
      });
    }
    const body = JSON.parse(init.body);
    const now = new Date().toISOString();
    const result = String(url).endsWith("/incoming-event")
      ? { message: "Event received.", event: { id: crypto.randomUUID(), ...body, received_at: now } }
      : { data: { id: crypto.randomUUID(), org_reg_id: body.org_reg_id, status: "queued", created_at: now, updated_at: now } };
    return new Response(JSON.stringify(result), { status: 200, headers: { "content-type": "application/json" } });
  };
}

/**
 * Returns { call, signal }: call(i) makes the i-th call and resolves to its
 * outcome name, cycling through five kinds of call; signal is the lasting one.
 */
function makeCaller(baseUrl, fetchFunction) {
  const clientOptions = { baseUrl, accessToken: TOKEN, maxRetries: 1, ...(fetchFunction ? { fetch: fetchFunction } : {}) };
  const client = new StampedeClient(clientOptions);
  const lasting = new AbortController();
  const event = (i) => ({ organisation_registration_id: ORG, serials: ["MEM00001"], parameters: { source: "memory", n: i } });

  const calls = [
    (i) => client.sendIncomingEvent(event(i)),
    (i) => client.storeWorkflowRun("welcome-journey", { org_reg_id: ORG }),
    (i) => sendIncomingEvent(event(i), clientOptions),
    (i) => client.sendIncomingEvent({ ...event(i), serials: ["THIS SERIAL IS TOO LONG"] }),
    (i) => client.sendIncomingEvent(event(i), { signal: lasting.signal }),
  ];
  const call = (i) =>
    calls[i % calls.length](i).then(
      () => "resolved",
      (error) => (error instanceof StampedeError ? `rejected ${error.kind}` : `rejected with ${error}`),
    );
  return { call, signal: lasting.signal };
}

/** Makes calls from..to-1, `concurrency` at a time; adds each outcome to `outcomes` and throws if a call does not settle in time. */
async function runCalls(call, from, to, { concurrency, settleMs }, outcomes) {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next;
      next += 1;
      let timer;
      const limit = new Promise((resolve) => {
        timer = setTimeout(() => resolve("unsettled"), settleMs);
      });
      const outcome = await Promise.race([call(i), limit]);
      clearTimeout(timer);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (outcome === "unsettled") throw new Error(`call ${i} did not settle within ${settleMs} ms`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, to - from) }, worker));
}

// ---------------------------------------------------------------------------
// Report

const KIB = 1024;
const MIB = 1024 * 1024;

function printSamples(samples) {
  console.log("  sample            calls   wasm memory  externrefs   heapUsed    heapTotal   external   rss");
  for (const s of samples) {
    console.log(
      `  ${s.label.padEnd(15)} ${String(s.calls).padStart(7)} ` +
        `${(s.wasmBytes / MIB).toFixed(3).padStart(9)} MiB ${String(s.externrefs ?? "-").padStart(10)} ` +
        `${(s.heapUsed / MIB).toFixed(2).padStart(7)} MiB ${(s.heapTotal / MIB).toFixed(2).padStart(7)} MiB ` +
        `${(s.external / MIB).toFixed(2).padStart(6)} MiB ${(s.rss / MIB).toFixed(1).padStart(6)} MiB`,
    );
  }
}

function judge(start, warm, end, abortListeners, options) {
  const problems = [];
  if (abortListeners > 0) problems.push(`${abortListeners} abort listeners were left on the signal after every call settled`);
  if (end.wasmBytes > warm.wasmBytes) {
    problems.push(`the wasm memory grew after warm-up from ${warm.wasmBytes} to ${end.wasmBytes} bytes`);
  }
  if (end.externrefs !== null && end.externrefs > warm.externrefs) {
    problems.push(`the externref table grew after warm-up from ${warm.externrefs} to ${end.externrefs} slots`);
  }
  const heapRise = end.heapUsed - warm.heapUsed;
  if (heapRise > options.heapToleranceKiB * KIB) {
    problems.push(
      `heapUsed after GC rose ${(heapRise / KIB).toFixed(0)} KiB after warm-up, more than the tolerance of ${options.heapToleranceKiB} KiB`,
    );
  }
  return {
    problems,
    wasmGrowthAfterWarmup: end.wasmBytes - warm.wasmBytes,
    externrefGrowthAfterWarmup: end.externrefs === null ? null : end.externrefs - warm.externrefs,
    heapRiseAfterWarmup: heapRise,
    heapRiseFromStart: end.heapUsed - start.heapUsed,
    abortListeners,
  };
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error.message} Run with --help for the options.`);
    return 2;
  }
  if (options === null) {
    console.log(USAGE);
    return 0;
  }
  if (typeof globalThis.gc !== "function") {
    console.error("Run with node --expose-gc (scripts/memory does).");
    return 2;
  }
  const exports = wasmExports();

  const mock =
    options.fetch === "mock"
      ? await startMockServer({ host: "127.0.0.1", port: 0, token: TOKEN, log: false, maxRecordedRequests: 0, waitingPeriodMs: 0 })
      : null;
  try {
    let baseUrl = "http://127.0.0.1:9/";
    if (mock !== null) {
      baseUrl = mock.url;
      const response = await fetch(new URL("__mock/faults", mock.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ rate: FAULT_RATE, seed: 1, status: 503, headers: { "Retry-After": "0" } }),
      });
      if (response.status !== 200) throw new Error(`The mock rejected the fault settings: ${await response.text()}`);
    }
    const { call, signal } = makeCaller(baseUrl, mock === null ? fakeFetch() : null);
    const total = options.warmup + options.calls;
    console.log(
      `memory: Node ${process.version}, ${options.warmup} warm-up calls then ${options.calls} calls, ` +
        `concurrency ${options.concurrency}, fetch: ${mock === null ? "in-process fake" : `mock on ${mock.url}`}`,
    );

    const outcomes = {};
    const samples = [await sample("start", 0, exports)];
    const started = performance.now();
    await runCalls(call, 0, 1, options, outcomes);
    samples.push(await sample("after 1 call", 1, exports));
    await runCalls(call, 1, options.warmup, options, outcomes);
    samples.push(await sample("after warm-up", options.warmup, exports));
    const step = Math.max(1, Math.ceil(options.calls / 10));
    for (let from = options.warmup; from < total; from += step) {
      const to = Math.min(total, from + step);
      await runCalls(call, from, to, options, outcomes);
      samples.push(await sample(to === total ? "end" : "", to, exports));
    }
    const wallMs = performance.now() - started;

    const [start, warm, end] = [samples[0], samples[2], samples.at(-1)];
    const verdict = judge(start, warm, end, getEventListeners(signal, "abort").length, options);
    printSamples(samples);
    console.log(`  outcomes: ${Object.entries(outcomes).map(([name, count]) => `${name} ${count}`).join(", ")}`);
    console.log(
      `  after warm-up to end: wasm memory ${verdict.wasmGrowthAfterWarmup >= 0 ? "+" : ""}${verdict.wasmGrowthAfterWarmup} B, ` +
        `externrefs ${verdict.externrefGrowthAfterWarmup ?? "-"}, heapUsed ${(verdict.heapRiseAfterWarmup / KIB).toFixed(0)} KiB ` +
        `(tolerance ${options.heapToleranceKiB} KiB); start to end: heapUsed ${(verdict.heapRiseFromStart / KIB).toFixed(0)} KiB; ` +
        `abort listeners left: ${verdict.abortListeners}`,
    );
    console.log(`  wall time: ${(wallMs / 1000).toFixed(1)} s for ${total} calls, sampling included`);
    for (const text of verdict.problems) console.log(`  PROBLEM ${text}`);
    console.log(`memory: ${verdict.problems.length === 0 ? "ok" : "FAILED"}`);
    if (options.json) {
      console.log(`MEMORY_RESULT ${JSON.stringify({ options, samples, outcomes, wallMs: Math.round(wallMs), ...verdict })}`);
    }
    return verdict.problems.length === 0 ? 0 : 1;
  } finally {
    await mock?.close();
  }
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(await main());
}
