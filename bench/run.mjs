// Measures the package and its peers in one run and prints each figure, then
// each target beside the package's figure. scripts/bench builds the peers and
// calls this; run that instead.
// Usage: node bench/run.mjs --package DIR [--peer NAME=DIR]... [--only LIST] [--quick] [--json FILE]
import { fork, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { browserDownload } from "./lib/size.mjs";
import { kb, KB, median, ms, perSecond, printTable, ratio } from "./lib/stats.mjs";
import { NODE_CONDITIONS, resolveEntry } from "./lib/subjects.mjs";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const FIGURES = ["size", "cold", "overhead", "validate", "memory"];
const PACKAGE = "stampede-workflows";
const FLOOR = "plain-js";

// The targets the package must meet, each printed beside its figure.
const SIZE_TARGET_GZIP = 16 * KB;
const COLD_TARGET_FACTOR = 3;
const OVERHEAD_TOLERANCE = 0.05;
const VALIDATE_TARGET = 200_000;

const COUNTS = {
  full: {
    coldRuns: 15,
    overhead: { warmupCalls: 300, c1Rounds: 20, c1Calls: 150, c64Rounds: 10, c64CallsPerWorker: 30, stubRounds: 10, stubCalls: 2000 },
    validate: { batches: 11, callsPerBatch: 50_000 },
    memory: { calls: 50_000, warmupCalls: 5_000 },
  },
  quick: {
    coldRuns: 5,
    overhead: { warmupCalls: 100, c1Rounds: 6, c1Calls: 100, c64Rounds: 4, c64CallsPerWorker: 10, stubRounds: 4, stubCalls: 500 },
    validate: { batches: 5, callsPerBatch: 10_000 },
    memory: { calls: 10_000, warmupCalls: 1_000 },
  },
};

function exitWithUsage(message) {
  console.error(`bench/run.mjs: ${message}`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      package: { type: "string", default: "pkg" },
      peer: { type: "string", multiple: true, default: [] },
      only: { type: "string", default: FIGURES.join(",") },
      quick: { type: "boolean", default: false },
      json: { type: "string" },
    },
  }));
} catch (error) {
  exitWithUsage(error.message);
}
const only = args.only.split(",").filter(Boolean);
for (const figure of only) {
  if (!FIGURES.includes(figure)) exitWithUsage(`unknown figure "${figure}" in --only (known: ${FIGURES.join(", ")})`);
}
const counts = args.quick ? COUNTS.quick : COUNTS.full;

const subjects = [
  { name: PACKAGE, dir: resolve(args.package) },
  ...args.peer.map((spec) => {
    const [name, dir] = spec.split("=");
    if (!name || !dir) exitWithUsage(`--peer takes NAME=DIR, not "${spec}"`);
    return { name, dir: resolve(dir) };
  }),
];
for (const subject of subjects) subject.nodeEntry = pathToFileURL(resolveEntry(subject.dir, NODE_CONDITIONS)).href;

const results = { date: new Date().toISOString(), machine: machine(), quick: args.quick, figures: {} };
let failures = 0;

console.log(`${PACKAGE} benchmark, ${results.date}`);
console.log(`Node ${results.machine.node}, ${results.machine.cores} cores (${results.machine.cpu}), ${results.machine.memoryGiB} GiB`);
console.log(`Load average at the start: ${loadAverage()} (other work on the machine makes every figure noisier)`);
console.log(`Clients: ${subjects.map((subject) => `${subject.name} (${relative(process.cwd(), subject.dir) || "."})`).join(", ")}`);
console.log(`KB = 1024 bytes.${args.quick ? " --quick: fewer rounds, noisier figures." : ""}`);

let server;
try {
  if (only.includes("size")) await sizeFigure();
  if (only.includes("cold")) await coldFigure();
  if (only.includes("overhead") || only.includes("memory")) server = await startServer();
  if (only.includes("overhead")) await overheadFigure();
  if (only.includes("validate")) await validateFigure();
  if (only.includes("memory")) await memoryFigure();
} finally {
  await stopServer(server);
}

printTargets();
results.loadAverageAtEnd = loadAverage();
console.log(`\nLoad average at the end: ${results.loadAverageAtEnd}`);
if (args.json) {
  writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nFigures written to ${args.json}`);
}
if (failures > 0) {
  console.error(`\n${failures} measurement(s) failed; see the errors above.`);
  process.exitCode = 1;
}

// ---------------------------------------------------------------- figures

async function sizeFigure() {
  heading("Browser download: every file the browser entry loads (static imports and the .wasm it fetches)");
  const figure = await eachSubject("size", (subject) => browserDownload(subject.dir));
  printTable(
    ["client", "entry", "files", "raw", "gzip -9", "brotli 11"],
    subjects.map(({ name }) => {
      const size = figure[name];
      if (size.error) return [name, `error: ${size.error}`, "", "", "", ""];
      return [name, size.entry, size.files.length, kb(size.total.raw), kb(size.total.gzip), kb(size.total.brotli)];
    }),
    2,
  );
  const own = figure[PACKAGE];
  if (own && !own.error) {
    console.log(`\n${PACKAGE}, file by file:`);
    printTable(
      ["file", "raw", "gzip -9", "brotli 11"],
      own.files.map((file) => [file.file, kb(file.raw), kb(file.gzip), kb(file.brotli)]),
    );
  }
}

async function coldFigure() {
  heading(`Cold start in Node: import, wasm instantiation and the first validateIncomingEvent, median of ${counts.coldRuns} fresh processes`);
  const times = Object.fromEntries(subjects.map(({ name }) => [name, []]));
  const errors = {};
  // One unrecorded start per client fills the file cache. Then the clients
  // take turns, so that a slow moment of the machine is spread over all.
  for (let run = -1; run < counts.coldRuns; run += 1) {
    for (const subject of subjects) {
      if (errors[subject.name]) continue;
      try {
        const { elapsedMs } = await runNode(["cold.mjs", subject.nodeEntry], { timeoutMs: 60_000 });
        if (run >= 0) times[subject.name].push(elapsedMs);
      } catch (error) {
        errors[subject.name] = report("cold", subject, error);
      }
    }
  }
  const figure = {};
  for (const { name } of subjects) {
    figure[name] = errors[name] ?? { median: median(times[name]), min: Math.min(...times[name]), max: Math.max(...times[name]), runs: times[name] };
  }
  results.figures.cold = figure;

  const floor = figure[FLOOR]?.median;
  printTable(
    ["client", "median", "min", "max", `vs ${FLOOR}`],
    subjects.map(({ name }) => {
      const cold = figure[name];
      if (cold.error) return [name, `error: ${cold.error}`, "", "", ""];
      return [name, ms(cold.median), ms(cold.min), ms(cold.max), floor ? ratio(cold.median / floor) : "n/a"];
    }),
  );
}

async function overheadFigure() {
  const o = counts.overhead;
  heading(
    "Call overhead: sendIncomingEvent through a StampedeClient against a keep-alive server on 127.0.0.1, " +
      "interleaved with a raw fetch of the same request in one process",
  );
  console.log(
    `c=1: ${o.c1Rounds} rounds of ${o.c1Calls} calls each way (median and p99 of every call); ` +
      `c=64: ${o.c64Rounds} rounds of ${64 * o.c64CallsPerWorker} calls each way (median round); ` +
      `stub: a fetch option that returns a response at once, ${o.stubRounds} rounds of ${o.stubCalls} calls (median round).`,
  );
  const figure = await eachSubject("overhead", async (subject) => {
    const before = await serverCount();
    const result = await runNode(["overhead.mjs", JSON.stringify({ entry: subject.nodeEntry, baseUrl: server.baseUrl, ...o })], {
      timeoutMs: 10 * 60_000,
    });
    const responded = (await serverCount()) - before;
    if (responded !== result.sent) throw new Error(`the client sent ${result.sent} requests but the server responded to ${responded}`);
    return {
      ...result,
      ratios: {
        c1Median: result.c1.package.median / result.c1.fetch.median,
        c1P99: result.c1.package.p99 / result.c1.fetch.p99,
        c64: result.c64.package / result.c64.fetch,
      },
    };
  });

  printTable(
    ["client", "c=1 median", "fetch", "ratio", "c=1 p99", "fetch", "ratio", "c=64", "fetch", "ratio", "stub µs/call", "fetch"],
    subjects.map(({ name }) => {
      const f = figure[name];
      if (f.error) return [name, `error: ${f.error}`, ...Array(10).fill("")];
      const stub = f.stub.unavailable ? [`n/a: ${f.stub.unavailable}`, ""] : [f.stub.package.toFixed(1), f.stub.fetch.toFixed(1)];
      return [
        name,
        ms(f.c1.package.median, 3),
        ms(f.c1.fetch.median, 3),
        ratio(f.ratios.c1Median),
        ms(f.c1.package.p99, 3),
        ms(f.c1.fetch.p99, 3),
        ratio(f.ratios.c1P99),
        perSecond(f.c64.package),
        perSecond(f.c64.fetch),
        ratio(f.ratios.c64),
        ...stub,
      ];
    }),
  );
}

async function validateFigure() {
  const v = counts.validate;
  heading(`Validation throughput: validateIncomingEvent on a typical event, median of ${v.batches} batches of ${v.callsPerBatch.toLocaleString("en-US")} calls`);
  const figure = await eachSubject("validate", (subject) =>
    runNode(["validate.mjs", subject.nodeEntry, String(v.batches), String(v.callsPerBatch)], { timeoutMs: 5 * 60_000 }),
  );
  printTable(
    ["client", "calls/s", "µs/call"],
    subjects.map(({ name }) => {
      const f = figure[name];
      if (f.error) return [name, `error: ${f.error}`, ""];
      return [name, perSecond(f.callsPerSecond), (1e6 / f.callsPerSecond).toFixed(2)];
    }),
  );
}

async function memoryFigure() {
  const m = counts.memory;
  const calls = m.calls.toLocaleString("en-US");
  heading(
    `Memory: heapUsed after forced GC, and wasm memory, after the import, after a warm-up of ${m.warmupCalls.toLocaleString("en-US")} calls each, ` +
      `after ${calls} validateIncomingEvent and after ${calls} sendIncomingEvent (c=64)`,
  );
  const figure = await eachSubject("memory", async (subject) => {
    const before = await serverCount();
    const result = await runNode(["memory.mjs", JSON.stringify({ entry: subject.nodeEntry, baseUrl: server.baseUrl, ...m })], {
      nodeArgs: ["--expose-gc"],
      timeoutMs: 10 * 60_000,
    });
    const responded = (await serverCount()) - before;
    if (responded !== result.requests) throw new Error(`the client sent ${result.requests} requests but the server responded to ${responded}`);
    return result;
  });
  const mb = (bytes) => `${(bytes / (1024 * 1024)).toFixed(2)} MB`;
  const stages = ["import", "warm", "validated", "sent"];
  printTable(
    ["client", "heap: import", "warm", `+${calls} validate`, `+${calls} send`, "wasm: import", "warm", `+${calls} validate`, `+${calls} send`],
    subjects.map(({ name }) => {
      const f = figure[name];
      if (f.error) return [name, `error: ${f.error}`, ...Array(7).fill("")];
      return [name, ...stages.map((stage) => mb(f[stage].heapUsed)), ...stages.map((stage) => (f[stage].wasm === null ? "no wasm" : kb(f[stage].wasm, 0)))];
    }),
  );
}

// ---------------------------------------------------------------- targets

function printTargets() {
  heading(`Targets, for ${PACKAGE}`);
  const f = results.figures;
  const own = (figure) => (figure && figure[PACKAGE] && !figure[PACKAGE].error ? figure[PACKAGE] : undefined);
  const floor = (figure) => (figure && figure[FLOOR] && !figure[FLOOR].error ? figure[FLOOR] : undefined);
  const rows = [];
  const add = (target, figure, met) => {
    let verdict = "n/a";
    if (met !== undefined) verdict = met ? "met" : "MISSED";
    rows.push([target, figure, verdict]);
  };

  if (f.size) {
    const size = own(f.size);
    add(`browser download at most ${kb(SIZE_TARGET_GZIP, 0)} gzipped`, size ? kb(size.total.gzip) : "error", size && size.total.gzip <= SIZE_TARGET_GZIP);
  }
  if (f.cold) {
    const cold = own(f.cold);
    const base = floor(f.cold);
    add(
      `cold start at most ${COLD_TARGET_FACTOR}× ${FLOOR}'s${base ? ` (${ms(COLD_TARGET_FACTOR * base.median)})` : ""}`,
      cold ? `${ms(cold.median)}${base ? ` (${ratio(cold.median / base.median)})` : ""}` : "error",
      cold && base ? cold.median <= COLD_TARGET_FACTOR * base.median : undefined,
    );
  }
  if (f.overhead) {
    const overhead = own(f.overhead);
    const base = floor(f.overhead);
    const latencyLimit = base && base.ratios.c1Median * (1 + OVERHEAD_TOLERANCE);
    const throughputLimit = base && base.ratios.c64 * (1 - OVERHEAD_TOLERANCE);
    add(
      `c=1 median latency vs fetch at most ${FLOOR}'s + 5%${base ? ` (${ratio(latencyLimit)})` : ""}`,
      overhead ? ratio(overhead.ratios.c1Median) : "error",
      overhead && base ? overhead.ratios.c1Median <= latencyLimit : undefined,
    );
    add(
      `c=64 throughput vs fetch at least ${FLOOR}'s - 5%${base ? ` (${ratio(throughputLimit)})` : ""}`,
      overhead ? ratio(overhead.ratios.c64) : "error",
      overhead && base ? overhead.ratios.c64 >= throughputLimit : undefined,
    );
  }
  if (f.validate) {
    const validate = own(f.validate);
    add(`at least ${perSecond(VALIDATE_TARGET)} validateIncomingEvent`, validate ? perSecond(validate.callsPerSecond) : "error", validate && validate.callsPerSecond >= VALIDATE_TARGET);
  }
  if (f.memory) {
    const memory = own(f.memory);
    let figure = "error";
    let flat;
    if (memory && memory.warm.wasm === null) {
      figure = "no wasm";
      flat = true;
    } else if (memory) {
      figure = [memory.warm, memory.validated, memory.sent].map((stage) => kb(stage.wasm, 0)).join(" → ");
      flat = memory.validated.wasm === memory.warm.wasm && memory.sent.wasm === memory.warm.wasm;
    }
    add("wasm memory flat after warm-up (warm → +validate → +send)", figure, flat);
  }
  if (rows.length === 0) return;
  printTable(["target", PACKAGE, "result"], rows, 1);
  if (!subjects.some(({ name }) => name === FLOOR)) console.log(`(targets relative to ${FLOOR} need that peer: drop --no-peers or add it to --peers)`);
}

// ---------------------------------------------------------------- helpers

function heading(text) {
  console.log(`\n== ${text}\n`);
}

// Measures each client in turn, keeping an error as that client's figure.
async function eachSubject(key, measure) {
  const figure = {};
  for (const subject of subjects) {
    try {
      figure[subject.name] = await measure(subject);
    } catch (error) {
      figure[subject.name] = report(key, subject, error);
    }
  }
  results.figures[key] = figure;
  return figure;
}

function report(key, subject, error) {
  failures += 1;
  console.error(`error: ${key} of ${subject.name}: ${error.stack ?? error}`);
  return { error: String(error.message ?? error).split("\n")[0] };
}

// Runs a script of bench/ in a fresh Node process and returns the JSON it
// printed last; the process is killed after timeoutMs.
function runNode([script, ...scriptArgs], { nodeArgs = [], timeoutMs }) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(BENCH_DIR, script), ...scriptArgs], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}${signal === "SIGKILL" ? ` (over ${timeoutMs / 1000} s?)` : ""}` : `exited with ${code}`;
        reject(new Error(`${script} ${why}: ${stderr.trim().split("\n").slice(-8).join("\n")}`));
        return;
      }
      const last = stdout.trim().split("\n").at(-1);
      try {
        resolvePromise(JSON.parse(last));
      } catch {
        reject(new Error(`${script} printed no JSON result: ${stdout.slice(-500)}`));
      }
    });
  });
}

function startServer() {
  return new Promise((resolvePromise, reject) => {
    const child = fork(join(BENCH_DIR, "server.mjs"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("bench/server.mjs did not report its port within 10 s"));
    }, 10_000);
    child.once("message", ({ port }) => {
      clearTimeout(timer);
      resolvePromise({ child, baseUrl: `http://127.0.0.1:${port}` });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bench/server.mjs exited with ${code} before reporting its port`));
    });
  });
}

function serverCount() {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error("bench/server.mjs did not report its count within 5 s")), 5_000);
    server.child.once("message", ({ responded }) => {
      clearTimeout(timer);
      resolvePromise(responded);
    });
    server.child.send("count");
  });
}

// Disconnecting makes the server exit; it is killed if it has not within 5 s.
async function stopServer(running) {
  if (!running || !running.child.connected) return;
  const exited = new Promise((resolvePromise) => running.child.once("exit", resolvePromise));
  running.child.disconnect();
  const timer = setTimeout(() => running.child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

function loadAverage() {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(" ");
}

function machine() {
  return {
    loadAverage: loadAverage(),
    node: process.version,
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: (totalmem() / 1024 ** 3).toFixed(1),
  };
}
