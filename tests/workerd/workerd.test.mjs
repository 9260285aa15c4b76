// Runs the package inside workerd (through miniflare) against the mock API.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Miniflare } from "miniflare";
import { startMockServer } from "../../www/mock/server.mjs";

const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const root = fileURLToPath(new URL("../../", import.meta.url));

let mock;
let worker;

before(async () => {
  mock = await startMockServer({ port: 0 });
  worker = new Miniflare({
    modules: true,
    modulesRoot: root,
    scriptPath: `${root}tests/workerd/worker.js`,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-01-01",
    bindings: { STAMPEDE_BASE_URL: mock.url, STAMPEDE_TOKEN: "demo-token" },
  });
  await worker.ready;
});

after(async () => {
  await worker?.dispose();
  await mock?.close();
});

test("package exports map points workerd at workerd.js", () => {
  const manifest = JSON.parse(readFileSync(`${root}pkg/package.json`, "utf8"));
  assert.equal(manifest.exports["."].workerd.default, "./workerd.js");
});

test("worker sends both requests through the package", async () => {
  const response = await worker.dispatchFetch("http://worker.test/");
  const report = await response.json();

  assert.equal(response.status, 200, JSON.stringify(report));
  assert.equal(report.validation.valid, false);
  assert.ok(report.validation.errors["serials.0"]);
  assert.equal(typeof report.event.message, "string");
  assert.equal(report.run.data.org_reg_id, ORG);
  assert.deepEqual(report.error, {
    isStampedeError: true,
    isError: true,
    kind: "not_found",
    status: 404,
    attempts: 1,
  });

  const paths = mock.state.requests.map((request) => request.path);
  assert.deepEqual(paths, [
    "/v1/workflows/incoming-event",
    "/v1/workflows/welcome-journey/workflow-runs",
    "/v1/workflows/no-such-workflow/workflow-runs",
  ]);
});
