// Short runs of the soak and memory scripts (scripts/soak and scripts/memory
// run the full ones), each as a child process against a mock it starts on
// 127.0.0.1, plus a check that the soak's counting flags what it must.
//
// Sizes: 2,000 events at concurrency 200 in each soak phase, and 2,000
// warm-up plus 5,000 calls in the memory run. Together they took 9 to 16 s on
// 2 cores busy with other work. Each child is killed (by its pid) past CHILD_LIMIT_MS.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { tally } from "../scripts/lib/soak.mjs";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
// Above the soak's own bound for a call that never settles (4 attempts of
// 30 s plus 10 s), so that the script reports such a call itself.
const CHILD_LIMIT_MS = 180_000;

/** Runs node with the arguments; resolves to { code, stdout, stderr } and the figures of the line starting with `marker`. */
function runScript(args, marker) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: REPO_ROOT, timeout: CHILD_LIMIT_MS, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (error.code ?? error.signal) : 0;
        const line = stdout.split("\n").find((text) => text.startsWith(`${marker} `));
        resolve({ code, stdout, stderr, result: line === undefined ? null : JSON.parse(line.slice(marker.length + 1)) });
      },
    );
  });
}

// The printed report without the JSON line, for failure messages.
function report({ stdout, stderr }) {
  return `${stdout.replace(/^[A-Z_]+ \{.*$/m, "")}${stderr}`;
}

describe("soak", () => {
  // 2,000 events at concurrency 200, without faults and then with 10% 503s.
  test("short soak loses no event", async (t) => {
    const run = await runScript(["scripts/lib/soak.mjs", "--events", "2000", "--concurrency", "200", "--json"], "SOAK_RESULT");
    t.diagnostic(report(run).trim());
    assert.equal(run.code, 0, report(run));
    const [clean, faults] = run.result.phases;

    for (const phase of [clean, faults]) {
      assert.equal(phase.sent, 2000);
      assert.equal(phase.unsettled, 0, phase.name);
      assert.equal(phase.lost, 0, phase.name);
      assert.equal(phase.acceptedTwiceOrMore, 0, phase.name);
      assert.equal(phase.rejectedButAccepted, 0, phase.name);
      assert.equal(phase.resolved + phase.rejected, phase.sent, phase.name);
      assert.equal(phase.acceptedOnce, phase.resolved, phase.name);
      assert.deepEqual(phase.problems, [], phase.name);
    }

    assert.equal(clean.resolved, 2000);
    assert.equal(clean.totalRequests, 2000);
    assert.deepEqual(clean.mockStatuses, { 200: 2000 });

    // An event whose 4 attempts all get a 503 (probability 1e-4 each) is
    // rejected and never accepted; the script checks each such rejection.
    assert.equal(faults.rejected, faults.retriesExhausted);
    assert.equal(faults.neverAccepted, faults.rejected);
    assert.equal(faults.totalRequests, faults.sent + faults.retries);
    assert.equal(faults.mockStatuses[503], faults.retries + faults.rejected);
    // About 10% of about 2,222 requests. Far outside that, the mock does not apply the fault rate.
    assert.ok(faults.retries > 100, `${faults.retries} retries`);
    assert.ok(faults.retries < 400, `${faults.retries} retries`);
  });

  test("tally flags every kind of failure", () => {
    const okValue = (n) => ({ message: "Event received.", event: { parameters: { soak_id: String(n) } } });
    const request = (n, status) => ({
      path: "/v1/workflows/incoming-event",
      body: JSON.stringify({ parameters: { soak_id: String(n) } }),
      status,
    });
    const exhausted = { state: "rejected", error: { kind: "server", status: 503, attempts: 4, message: "503" } };
    const outcomes = [
      { state: "resolved", value: okValue(0) }, // fine
      { state: "resolved", value: okValue(1) }, // lost: never accepted
      { state: "resolved", value: okValue(2) }, // accepted twice
      { state: "resolved", value: okValue(0) }, // another event's response
      { state: "unsettled" },
      exhausted, // fine: 4 times 503, never accepted
      { state: "rejected", error: { kind: "network", attempts: 1, message: "reset" } }, // unexpected kind
      exhausted, // rejected, yet accepted
    ];
    const requests = [
      request(0, 200),
      request(1, 503),
      request(2, 200),
      request(2, 200),
      request(3, 200),
      request(4, 200),
      ...[1, 2, 3, 4].map(() => request(5, 503)),
      request(6, null),
      request(7, 503),
      request(7, 200),
    ];

    const { counts, problems } = tally(outcomes, requests, { maxRetries: 3, exhausted: { kind: "server", status: 503 } });

    assert.equal(counts.lost, 1);
    assert.equal(counts.acceptedTwiceOrMore, 1);
    assert.equal(counts.rejectedButAccepted, 1);
    assert.equal(counts.unsettled, 1);
    assert.equal(counts.retriesExhausted, 1);
    assert.deepEqual(counts.rejectedByKind, { server: 2, network: 1 });
    assert.equal(counts.retries, requests.length - outcomes.length);
    const flagged = problems.map((text) => Number(/^event (\d+):/.exec(text)[1]));
    assert.deepEqual([...new Set(flagged)].sort(), [1, 2, 3, 4, 6, 7]);
  });
});

describe("memory", () => {
  // 2,000 warm-up calls, then 5,000 calls.
  test("short memory run stays flat", async (t) => {
    const run = await runScript(
      ["--expose-gc", "scripts/lib/memory.mjs", "--warmup", "2000", "--calls", "5000", "--json"],
      "MEMORY_RESULT",
    );
    t.diagnostic(report(run).trim());
    assert.equal(run.code, 0, report(run));
    const result = run.result;

    assert.equal(result.wasmGrowthAfterWarmup, 0);
    assert.ok(result.externrefGrowthAfterWarmup === null || result.externrefGrowthAfterWarmup === 0);
    assert.ok(result.heapRiseAfterWarmup <= result.options.heapToleranceKiB * 1024, `${result.heapRiseAfterWarmup} bytes`);
    assert.equal(result.abortListeners, 0);
    assert.equal(Object.keys(result.outcomes).some((name) => name.includes("unsettled")), false);
    assert.deepEqual(result.problems, []);
  });
});
