// The package's browser download must stay within its budget: gzip -9 of
// every JS and wasm file that pkg/index.js loads, measured the same way
// scripts/bench measures it (bench/lib/size.mjs). Needs a built pkg/.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { browserDownload } from "../bench/lib/size.mjs";
import { KB } from "../bench/lib/stats.mjs";

const PKG_DIR = fileURLToPath(new URL("../pkg/", import.meta.url));

// The budget, in bytes (KB = 1024 bytes): the achieved gzipped browser
// download (35.2 KB on 2026-12-04), rounded up to the next KB. The target of
// 16 KB is out of reach for the reasons docs/benchmarks.md gives, with the
// bytes each source costs. Lower the budget as the package shrinks. The benchmark
// records, with the peers' figures, are in docs/benchmarks.md, and
// `scripts/bench --only size --no-peers` prints the current figure.
const BROWSER_DOWNLOAD_GZIP_BUDGET = 36 * KB;

test("the browser download stays within its gzip budget", async () => {
  assert.ok(existsSync(join(PKG_DIR, "package.json")), "pkg/ is missing: run scripts/build first");
  const { files, total } = await browserDownload(PKG_DIR);

  assert.ok(
    files.some(({ file }) => file.endsWith(".wasm")),
    `no .wasm among the files the browser entry loads: ${files.map(({ file }) => file).join(", ")}`,
  );
  const breakdown = files.map(({ file, gzip }) => `  ${file}: ${gzip} B`).join("\n");
  assert.ok(
    total.gzip <= BROWSER_DOWNLOAD_GZIP_BUDGET,
    `the browser download is ${total.gzip} B gzipped, over its budget of ${BROWSER_DOWNLOAD_GZIP_BUDGET} B:\n${breakdown}`,
  );
});

describe("browserDownload", () => {
  let dir;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "size-test-"));
    const files = {
      "package.json": JSON.stringify({
        type: "module",
        exports: { ".": { node: "./node.js", browser: "./entry.js", default: "./entry.js" } },
      }),
      "entry.js": [
        'import init from "./glue.js";',
        'export { helper } from "./helper.js";',
        'await init(new URL("./app_bg.wasm", import.meta.url));',
        'export const later = () => import("./lazy.js");',
      ].join("\n"),
      "glue.js": 'import "./shared.js";\nexport default async (url) => WebAssembly.instantiateStreaming(fetch(url), {});',
      "helper.js": 'import "./shared.js";\nexport const helper = 1;',
      "shared.js": "export {};",
      "lazy.js": "export const lazy = true;",
      "node.js": "export {};",
      "app_bg.wasm": Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]),
      "unused.wasm": Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]),
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test("counts static imports and named wasm", async () => {
    const { entry, files, total } = await browserDownload(dir);

    assert.equal(entry, "entry.js");
    assert.deepEqual(files.map(({ file }) => file).sort(), ["app_bg.wasm", "entry.js", "glue.js", "helper.js", "shared.js"]);
    for (const key of ["raw", "gzip", "brotli"]) {
      assert.equal(total[key], files.reduce((sum, file) => sum + file[key], 0), key);
    }
    const wasm = files.find(({ file }) => file === "app_bg.wasm");
    assert.equal(wasm.raw, 8);
  });
});
