// Soak test of the built package (pkg/node.js): many incoming events at once
// from one StampedeClient against the mock API, started in this process on
// 127.0.0.1. Run it through scripts/soak; `node scripts/lib/soak.mjs --help`
// lists the flags.
//
// Two phases, each with a fresh client and a reset mock:
//
// 1. clean: every response is the mock's normal 200. Every promise must
//    resolve, and the mock must accept each event exactly once, with one
//    request per event.
// 2. faults: a random 10% of the API requests get a 503 with "Retry-After: 0"
//    (so the retries wait for nothing and the phase runs fast), and the client
//    has maxRetries: 3. A 503 is retried by default, because it says the
//    server did not process the request.
//
// Each event carries its number as parameters.soak_id. The mock records every
// request with the status it sent, and the script counts the 200s per
// soak_id. It also checks that each resolved promise got the response for its
// own event.
//
// What the faults phase can promise. The faults are independent draws, so with
// the defaults an event fails all 4 attempts with probability 0.1^4 = 1e-4:
// about one event in 10,000, or a 63% chance of at least one in a run of
// 10,000. A seed cannot rule that out, because the order in which 200
// concurrent requests reach the mock, and so which request gets which draw,
// changes from run to run. So the phase does not require every promise to
// resolve. It requires that:
// - every promise settles, and no event is accepted twice;
// - a resolved promise's event was accepted exactly once;
// - a rejected promise is kind "server" with status 503 after maxRetries + 1
//   attempts, and the mock received exactly those requests and sent 503 for
//   each, so the event was never accepted.
// Those rejected events are counted as "retries exhausted" and do not
// fail the run, because the caller was told and may send the event again.
//
// The run fails (exit code 1) when an event is:
// - lost: its promise resolved but the mock never accepted it;
// - duplicated: the mock accepted it twice or more;
// - rejected although the mock accepted it (say a timeout after the mock's
//   200), so that a caller who sends it again duplicates it;
// - resolved with another event's response;
// - sent more often than maxRetries allows, or retried at all in the clean phase;
// - rejected in any other way than above;
// - unsettled: its promise did not settle within --settle-ms, by default the
//   time every attempt may take plus 10 s.
//
// The clients keep the package's default timeoutMs of 30 s. Node's fetch
// needs about a second to open 200 connections at once, even with no package
// involved (plain fetch against a plain node:http server on an idle 2-core
// machine), and on a 2-core machine busy with other work the first calls took
// over 10 s. A shorter timeout would turn that into failures of the run.
import { realpathSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { StampedeClient } from "../../pkg/node.js";
import { startMockServer } from "../../www/mock/server.mjs";

const TOKEN = "soak-token-3f8e1c";
const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const ROUTE = "/v1/workflows/incoming-event";
// The clean phase keeps the package's default maxRetries; it should need none.
const CLEAN_MAX_RETRIES = 2;
// Added to the time every attempt may take, for the default --settle-ms.
const SETTLE_MARGIN_MS = 10_000;
// setTimeout fires at once for delays above this.
const MAX_TIMER_MS = 2_147_483_647;

const USAGE = `Usage: node scripts/lib/soak.mjs [options]

Sends incoming events from one StampedeClient to the mock API on 127.0.0.1,
first with no faults, then with a share of 503 responses, and checks that
the mock accepted each event exactly once and every promise settled.

Options:
  --events N        events per phase (default 10000)
  --concurrency N   calls in flight at once (default 200)
  --fault-rate R    share of requests that get a 503 in the faults phase (default 0.1)
  --max-retries N   maxRetries of the client in the faults phase (default 3)
  --seed N          seed of the mock's fault generator (default 1)
  --timeout-ms N    timeoutMs of the clients, per attempt (default 30000, the
                    package's default)
  --settle-ms N     a promise not settled this long after its call counts as
                    unsettled (default: every attempt's timeout plus 10000,
                    (max-retries + 1) * timeout-ms + 10000)
  --json            also print the figures as one line "SOAK_RESULT {...}"
  --help            print this help`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "200" },
      "fault-rate": { type: "string", default: "0.1" },
      "max-retries": { type: "string", default: "3" },
      seed: { type: "string", default: "1" },
      "timeout-ms": { type: "string", default: "30000" },
      "settle-ms": { type: "string" },
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
  const faultRate = Number(values["fault-rate"]);
  if (values["fault-rate"].trim() === "" || !(faultRate >= 0 && faultRate <= 1)) {
    throw new TypeError(`--fault-rate must be a number from 0 to 1, but it is "${values["fault-rate"]}".`);
  }
  return {
    events: integer("events", 1, 10_000_000),
    concurrency: integer("concurrency", 1, 10_000),
    faultRate,
    maxRetries: integer("max-retries", 0, 10),
    seed: integer("seed", 0, 0xffff_ffff),
    timeoutMs: integer("timeout-ms", 1, 2_147_483_647),
    settleMs: values["settle-ms"] === undefined ? null : integer("settle-ms", 1, 2_147_483_647),
    json: values.json,
  };
}

// ---------------------------------------------------------------------------
// Sending

function eventFor(n) {
  return { organisation_registration_id: ORG, parameters: { source: "soak", soak_id: String(n) } };
}

/**
 * Calls sendIncomingEvent once per event, `concurrency` calls at a time, and
 * returns what became of each: { state: "resolved", value }, { state:
 * "rejected", error } or { state: "unsettled" }, with its duration in ms.
 * A call still pending after settleMs frees its slot, so the run ends anyway.
 */
async function sendAll(client, { events, concurrency, settleMs }) {
  const outcomes = new Array(events);
  let next = 0;

  const sendOne = (n) =>
    new Promise((resolve) => {
      const started = performance.now();
      const finish = (outcome) => {
        clearTimeout(timer);
        outcomes[n] ??= { ...outcome, ms: performance.now() - started };
        resolve();
      };
      const timer = setTimeout(() => finish({ state: "unsettled" }), settleMs);
      let call;
      try {
        call = client.sendIncomingEvent(eventFor(n));
      } catch (error) {
        finish({ state: "threw", error });
        return;
      }
      call.then(
        (value) => finish({ state: "resolved", value }),
        (error) => finish({ state: "rejected", error }),
      );
    });

  const worker = async () => {
    while (next < events) {
      const n = next;
      next += 1;
      await sendOne(n);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, events) }, worker));
  return outcomes;
}

// ---------------------------------------------------------------------------
// Counting

/** Per soak_id: how many requests the mock received, and their statuses. */
function requestsByEvent(requests) {
  const byEvent = new Map();
  let foreign = 0;
  for (const request of requests) {
    let id;
    try {
      id = request.path === ROUTE ? JSON.parse(request.body).parameters.soak_id : undefined;
    } catch {
      id = undefined;
    }
    if (typeof id !== "string") {
      foreign += 1;
      continue;
    }
    let entry = byEvent.get(id);
    if (entry === undefined) {
      entry = { requests: 0, accepted: 0, statuses: [] };
      byEvent.set(id, entry);
    }
    entry.requests += 1;
    entry.statuses.push(request.status);
    if (request.status === 200) entry.accepted += 1;
  }
  return { byEvent, foreign };
}

function countBy(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function percentile(sorted, fraction) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/**
 * Compares each call's outcome with what the mock received. `exhausted` is
 * the rejection a call may end with when every attempt got a fault, or null
 * when no rejection is allowed.
 */
export function tally(outcomes, requests, { maxRetries, exhausted }) {
  const { byEvent, foreign } = requestsByEvent(requests);
  const counts = {
    sent: outcomes.length,
    resolved: 0,
    rejected: 0,
    rejectedByKind: {},
    unsettled: 0,
    acceptedOnce: 0,
    acceptedTwiceOrMore: 0,
    neverAccepted: 0,
    lost: 0,
    rejectedButAccepted: 0,
    retriesExhausted: 0,
    totalRequests: requests.length,
    retries: requests.length - outcomes.length,
    mockStatuses: countBy(requests.map((request) => request.status)),
    latencyMs: {},
  };
  const problems = [];
  const problem = (n, text) => {
    problems.push(`event ${n}: ${text}`);
  };
  const latencies = [];

  outcomes.forEach((outcome, n) => {
    const seen = byEvent.get(String(n)) ?? { requests: 0, accepted: 0, statuses: [] };
    if (seen.accepted === 1) counts.acceptedOnce += 1;
    else if (seen.accepted === 0) counts.neverAccepted += 1;
    else counts.acceptedTwiceOrMore += 1;
    if (seen.accepted > 1) problem(n, `duplicated: accepted ${seen.accepted} times`);
    if (seen.requests > maxRetries + 1) problem(n, `${seen.requests} requests, more than maxRetries ${maxRetries} allows`);
    if (exhausted === null && seen.requests > 1) problem(n, `${seen.requests} requests, although the mock sent no fault`);
    if (outcome.state !== "unsettled") latencies.push(outcome.ms);

    if (outcome.state === "resolved") {
      counts.resolved += 1;
      if (seen.accepted === 0) {
        counts.lost += 1;
        problem(n, "lost: the promise resolved but the mock never accepted the event");
      }
      const echoed = outcome.value?.event?.parameters?.soak_id;
      if (echoed !== String(n)) problem(n, `resolved with the response for soak_id ${JSON.stringify(echoed)}`);
    } else if (outcome.state === "rejected" || outcome.state === "threw") {
      counts.rejected += 1;
      const error = outcome.error;
      const kind = outcome.state === "threw" ? "threw synchronously" : (error?.kind ?? `not a StampedeError: ${error}`);
      counts.rejectedByKind[kind] = (counts.rejectedByKind[kind] ?? 0) + 1;
      const expected =
        exhausted !== null &&
        outcome.state === "rejected" &&
        error?.kind === exhausted.kind &&
        error?.status === exhausted.status &&
        error?.attempts === maxRetries + 1 &&
        seen.requests === maxRetries + 1 &&
        seen.statuses.every((status) => status === exhausted.status);
      if (seen.accepted > 0) {
        counts.rejectedButAccepted += 1;
        problem(n, `rejected with ${kind} after ${error?.attempts} attempts although the mock accepted it, so a caller that sends it again duplicates it`);
      } else if (expected) counts.retriesExhausted += 1;
      else {
        problem(
          n,
          `rejected with ${kind} ${error?.status ?? ""} after ${error?.attempts} attempts (mock: ${seen.requests} requests, ` +
            `statuses ${seen.statuses.join(",") || "none"}): ${error?.message ?? error}`,
        );
      }
    } else {
      counts.unsettled += 1;
      problem(n, "unsettled: the promise did not settle in time");
    }
  });

  if (foreign > 0) problems.push(`${foreign} requests the mock received carry no soak_id`);
  latencies.sort((a, b) => a - b);
  counts.latencyMs = {
    p50: Math.round(percentile(latencies, 0.5)),
    p99: Math.round(percentile(latencies, 0.99)),
    max: Math.round(latencies.at(-1) ?? 0),
  };
  return { counts, problems };
}

// ---------------------------------------------------------------------------
// Phases

// After the last promise settles, every accepted request already carries its
// status (the mock notes it as it writes the head). A response the mock is
// still sending, say after a client timeout, gets this long to start.
const MOCK_QUIET_LIMIT_MS = 5_000;

async function waitForMockResponses(mock) {
  const deadline = performance.now() + MOCK_QUIET_LIMIT_MS;
  while (mock.state.requests.some((request) => request.status === null) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function runPhase(mock, name, options, { faultRate, maxRetries }) {
  const control = (route, body) =>
    fetch(new URL(`__mock/${route}`, mock.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  await (await control("reset", {})).arrayBuffer();
  const faultResponse = await control("faults", { rate: faultRate, seed: options.seed, status: 503, headers: { "Retry-After": "0" } });
  if (faultResponse.status !== 200) throw new Error(`The mock rejected the fault settings: ${await faultResponse.text()}`);

  const client = new StampedeClient({ baseUrl: mock.url, accessToken: TOKEN, maxRetries, timeoutMs: options.timeoutMs });
  const settleMs = options.settleMs ?? Math.min((maxRetries + 1) * options.timeoutMs + SETTLE_MARGIN_MS, MAX_TIMER_MS);
  const started = performance.now();
  const outcomes = await sendAll(client, { ...options, settleMs });
  const wallMs = performance.now() - started;
  await waitForMockResponses(mock);

  const exhausted = faultRate > 0 ? { kind: "server", status: 503 } : null;
  const { counts, problems } = tally(outcomes, mock.state.requests, { maxRetries, exhausted });
  return { name, faultRate, maxRetries, ...counts, wallMs: Math.round(wallMs), problems };
}

function printPhase(phase, options) {
  const line = (label, value) => console.log(`  ${label.padEnd(35)} ${value}`);
  const kinds = Object.entries(phase.rejectedByKind).map(([kind, count]) => `${kind} ${count}`).join(", ");
  const statuses = Object.entries(phase.mockStatuses).map(([status, count]) => `${status}: ${count}`).join(", ");
  console.log(
    `\n== phase ${phase.name}: ${phase.sent} events, concurrency ${options.concurrency}, ` +
      `${phase.faultRate > 0 ? `fault rate ${phase.faultRate} (503, Retry-After: 0)` : "no faults"}, maxRetries ${phase.maxRetries}`,
  );
  line("sent", phase.sent);
  line("resolved", phase.resolved);
  line("rejected", `${phase.rejected}${kinds ? ` (${kinds})` : ""}`);
  line("  of which retries exhausted on 503", phase.retriesExhausted);
  line("unsettled", phase.unsettled);
  line("accepted exactly once", phase.acceptedOnce);
  line("accepted twice or more", phase.acceptedTwiceOrMore);
  line("never accepted", phase.neverAccepted);
  line("lost (resolved, never accepted)", phase.lost);
  line("rejected although accepted", phase.rejectedButAccepted);
  line("total requests", phase.totalRequests);
  line("retries", phase.retries);
  line("statuses the mock sent", statuses || "none");
  line("latency per call (ms)", `p50 ${phase.latencyMs.p50}, p99 ${phase.latencyMs.p99}, max ${phase.latencyMs.max}`);
  line("wall time", `${(phase.wallMs / 1000).toFixed(2)} s (${Math.round((phase.sent * 1000) / Math.max(phase.wallMs, 1))} events/s)`);
  for (const text of phase.problems.slice(0, 20)) console.log(`  PROBLEM ${text}`);
  if (phase.problems.length > 20) console.log(`  PROBLEM ... and ${phase.problems.length - 20} more`);
  console.log(`  result: ${phase.problems.length === 0 ? "ok" : `FAILED (${phase.problems.length} problems)`}`);
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

  // Room for every attempt of every event, so no request drops out of the record.
  const mock = await startMockServer({
    host: "127.0.0.1",
    port: 0,
    token: TOKEN,
    log: false,
    maxRecordedRequests: options.events * (Math.max(options.maxRetries, CLEAN_MAX_RETRIES) + 1) + 1,
  });
  console.log(`soak: Node ${process.version}, mock on ${mock.url}, seed ${options.seed}`);
  const phases = [];
  try {
    phases.push(await runPhase(mock, "clean", options, { faultRate: 0, maxRetries: CLEAN_MAX_RETRIES }));
    printPhase(phases[0], options);
    phases.push(await runPhase(mock, "faults", options, { faultRate: options.faultRate, maxRetries: options.maxRetries }));
    printPhase(phases[1], options);
  } finally {
    await mock.close();
  }

  const failed = phases.some((phase) => phase.problems.length > 0);
  console.log(`\nsoak: ${failed ? "FAILED" : "ok"}`);
  if (options.json) {
    const summary = phases.map(({ problems, ...phase }) => ({ ...phase, problems: problems.slice(0, 50), problemCount: problems.length }));
    console.log(`SOAK_RESULT ${JSON.stringify({ options, phases: summary })}`);
  }
  return failed ? 1 : 0;
}

// Exits explicitly: a promise that never settled must not keep the process
// alive, and the mock is closed by now. Imported, the module only exports
// tally, so that tests can feed it made-up outcomes.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(await main());
}
