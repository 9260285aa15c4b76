// The browser download of a package: every file its browser entry loads.
// That is the entry, every module it reaches through static `import` and
// `export ... from` (dynamic `import()` is not followed: it loads later, if
// at all), and each `.wasm` those modules name with
// `new URL("….wasm", import.meta.url)`, which is how wasm-bindgen's glue
// and the entries point at the file they fetch. Each file is compressed on
// its own, as a server sends it: gzip at level 9 and brotli at quality 11.
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";
import { BROWSER_CONDITIONS, resolveEntry } from "./subjects.mjs";

const WASM_URL = /new\s+URL\(\s*(["'`])([^"'`]+?\.wasm)\1\s*,\s*import\.meta\.url\s*\)/g;

export function compressedSizes(bytes) {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length,
  };
}

// The files of the package at `dir` that a browser loads through its
// browser entry, with their sizes and the totals.
export async function browserDownload(dir) {
  const entry = resolveEntry(dir, BROWSER_CONDITIONS);
  const modules = await staticModules(entry);

  const wasm = new Set();
  for (const file of modules) {
    for (const [, , path] of readFileSync(file, "utf8").matchAll(WASM_URL)) {
      wasm.add(resolve(dirname(file), path));
    }
  }
  const loadsWasm = modules.some((file) => readFileSync(file, "utf8").includes("WebAssembly."));
  if (loadsWasm && wasm.size === 0) {
    throw new Error(`${dir}: the browser entry instantiates WebAssembly but no new URL("….wasm", import.meta.url) was found`);
  }

  const files = [...modules, ...wasm].map((file) => ({
    file: relative(dir, file),
    ...compressedSizes(readFileSync(file)),
  }));
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const file of files) {
    for (const key of Object.keys(total)) total[key] += file[key];
  }
  return { entry: relative(dir, entry), files, total };
}

// The entry and every module reachable from it through static imports, as
// esbuild resolves them for a browser build.
async function staticModules(entry) {
  const workingDir = dirname(entry);
  const { metafile } = await build({
    entryPoints: [entry],
    absWorkingDir: workingDir,
    bundle: true,
    write: false,
    metafile: true,
    format: "esm",
    platform: "browser",
    conditions: ["browser"],
    logLevel: "silent",
  });
  const inputs = new Map(Object.entries(metafile.inputs).map(([path, input]) => [resolve(workingDir, path), input]));

  const seen = new Set([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const input = inputs.get(queue.shift());
    if (!input) throw new Error(`esbuild's metafile has no record of a module it bundled from ${entry}`);
    for (const imported of input.imports) {
      if (imported.kind !== "import-statement" || imported.external) continue;
      const path = resolve(workingDir, imported.path);
      if (!seen.has(path)) {
        seen.add(path);
        queue.push(path);
      }
    }
  }
  return [...seen];
}
