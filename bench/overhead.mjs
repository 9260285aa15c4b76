// Call overhead of one client against the local server, in a process of its
// own: sendIncomingEvent through a StampedeClient (or the plain function
// where a client has no class) and a raw fetch of the same request, timed in
// alternating rounds so that both see the same machine and server state.
//   - concurrency 1: the latency of every call, for the median and p99;
//   - concurrency 64: calls per second in each round, for the median;
//   - stub fetch: microseconds per call with a fetch option that returns a
//     response at once, which leaves only the client's own work (n/a where
//     the client ignores the option).
// Usage: node bench/overhead.mjs JSON, with entry, baseUrl and the counts.
import { checkResponse, EVENT, EVENT_PATH, RESPONSE_BODY, TOKEN } from "./lib/event.mjs";
import { median, percentile } from "./lib/stats.mjs";

const settings = JSON.parse(process.argv[2]);
const subject = await import(settings.entry);
const url = settings.baseUrl + EVENT_PATH;
const HEADERS = { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${TOKEN}` };
let sent = 0;

function clientCall(options) {
  if (typeof subject.StampedeClient === "function") {
    const client = new subject.StampedeClient(options);
    return () => client.sendIncomingEvent(EVENT);
  }
  return () => subject.sendIncomingEvent(EVENT, options);
}

async function rawFetch(fetchFunction) {
  const response = await fetchFunction(url, { method: "POST", headers: HEADERS, body: JSON.stringify(EVENT) });
  if (response.status !== 200) throw new Error(`raw fetch got ${response.status}`);
  return response.json();
}

const callPackage = clientCall({ baseUrl: settings.baseUrl, accessToken: TOKEN });
const methods = {
  package: async () => {
    sent += 1;
    return callPackage();
  },
  fetch: async () => {
    sent += 1;
    return rawFetch(fetch);
  },
};

// Runs each method once per round, the first in even rounds and the second
// in odd rounds, so neither always runs on the other's heels.
async function alternate(rounds, measure) {
  const results = { package: [], fetch: [] };
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? ["package", "fetch"] : ["fetch", "package"];
    for (const name of order) results[name].push(await measure(name));
  }
  return results;
}

async function sequentialLatencies(call, calls) {
  const latencies = [];
  for (let i = 0; i < calls; i += 1) {
    const start = performance.now();
    const body = await call();
    latencies.push(performance.now() - start);
    checkResponse(body);
  }
  return latencies;
}

async function concurrentRate(call, workers, callsPerWorker) {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < callsPerWorker; i += 1) checkResponse(await call());
    }),
  );
  return (workers * callsPerWorker) / ((performance.now() - start) / 1000);
}

// Warm-up: connections opened, code compiled.
await alternate(2, (name) => sequentialLatencies(methods[name], settings.warmupCalls));
await alternate(2, (name) => concurrentRate(methods[name], 64, 4));

const c1 = await alternate(settings.c1Rounds, (name) => sequentialLatencies(methods[name], settings.c1Calls));
const c64 = await alternate(settings.c64Rounds, (name) => concurrentRate(methods[name], 64, settings.c64CallsPerWorker));

const result = {
  c1: {
    package: { median: median(c1.package.flat()), p99: percentile(c1.package.flat(), 99) },
    fetch: { median: median(c1.fetch.flat()), p99: percentile(c1.fetch.flat(), 99) },
    calls: c1.package.flat().length,
  },
  c64: { package: median(c64.package), fetch: median(c64.fetch), rounds: settings.c64Rounds },
  stub: await stubFigures(),
};
result.sent = sent;
console.log(JSON.stringify(result));

// Microseconds per call when fetch returns a response at once, with no network.
async function stubFigures() {
  let stubbed = 0;
  const stubFetch = async () => {
    stubbed += 1;
    return new Response(RESPONSE_BODY, { status: 200, headers: { "Content-Type": "application/json" } });
  };
  let callStubbed;
  try {
    callStubbed = clientCall({ baseUrl: settings.baseUrl, accessToken: TOKEN, fetch: stubFetch });
  } catch (error) {
    return { unavailable: `the fetch option was refused: ${error.message}` };
  }
  checkResponse(await callStubbed());
  if (stubbed === 0) {
    sent += 1;
    return { unavailable: "the fetch option is ignored" };
  }

  const stubMethods = { package: callStubbed, fetch: () => rawFetch(stubFetch) };
  const perCall = await alternate(settings.stubRounds, async (name) => {
    const start = performance.now();
    for (let i = 0; i < settings.stubCalls; i += 1) checkResponse(await stubMethods[name]());
    return ((performance.now() - start) * 1000) / settings.stubCalls;
  });
  return { package: median(perCall.package), fetch: median(perCall.fetch) };
}
