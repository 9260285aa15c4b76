// Shortens the names the wasm imports and exports, in the wasm and in its
// wasm-bindgen glue together. wasm-bindgen names each import after its Rust
// item plus a hash, and its module after the snippet's path, and every name
// is spelled out in both files: about 2.5 KB of the gzipped download.
//
// Usage: node scripts/lib/short-names.mjs WASM GLUE
// Both files are rewritten in place. wasm-opt's
// --minify-imports-and-exports-and-modules pass renames the names in the wasm
// and prints the old and new ones, and this script renames the same names in
// the glue. It stops with an error when the glue does not read as this
// wasm-bindgen version writes it, so a build never ships mismatched names.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const [wasmPath, gluePath] = process.argv.slice(2);
if (!wasmPath || !gluePath) {
  console.error("usage: node scripts/lib/short-names.mjs WASM GLUE");
  process.exit(2);
}

function fail(message) {
  console.error(`error: ${message}. The wasm-bindgen glue format may have changed, so the names were not shortened.`);
  process.exit(1);
}

const features = [
  "--enable-bulk-memory",
  "--enable-sign-ext",
  "--enable-nontrapping-float-to-int",
  "--enable-mutable-globals",
  "--enable-reference-types",
  "--enable-multivalue",
];
const printed = execFileSync(
  "node_modules/.bin/wasm-opt",
  [wasmPath, "--minify-imports-and-exports-and-modules", ...features, "-o", wasmPath],
  { encoding: "utf8" },
);
const names = JSON.parse(printed.slice(printed.indexOf("{")));

// Every import now comes from one module, whose name the wasm itself gives.
const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath)));
const modules = new Set(imports.map((entry) => entry.module));
if (modules.size !== 1) fail(`the wasm imports from ${modules.size} modules, not one`);
const [module] = modules;

let glue = readFileSync(gluePath, "utf8");

// The import object: wasm-bindgen's own imports are keys of `import0`, and a
// snippet's are the exports of a module imported as `import1`, `import2`, ...
const namespaces = new Map();
for (const [, variable, path] of glue.matchAll(/^import \* as (import\d+) from "([^"]+)"/gm)) {
  if (!namespaces.has(path)) namespaces.set(path, variable);
}
const entries = [];
for (const [from, name, short] of names.imports) {
  const key = new RegExp(`^(\\s+)${name}: function\\(`, "m");
  if (key.test(glue)) {
    glue = glue.replace(key, `$1${JSON.stringify(short)}: function(`);
    continue;
  }
  const variable = namespaces.get(from);
  if (!variable) fail(`the import ${from} ${name} is neither in import0 nor in an imported module`);
  entries.push(`${JSON.stringify(short)}: ${variable}.${name}`);
}

const returned = /return \{\n\s+__proto__: null,\n\s+"\.\/[^"]+_bg\.js": import0,\n(\s+"[^"]+": import\d+,\n)*\s+\};/;
if (!returned.test(glue)) fail("the import object of __wbg_get_imports was not found");
glue = glue.replace(
  returned,
  // Object.assign is used instead of a spread, because terser, which webpack
  // runs, merges a spread object literal into its parent and then rejects the two __proto__ keys.
  `return { __proto__: null, ${JSON.stringify(module)}: Object.assign(import0, { ${entries.join(", ")} }) };`,
);

for (const [name, short] of names.exports) {
  glue = glue.replaceAll(new RegExp(`\\bwasm\\.${name}\\b`, "g"), `wasm.${short}`);
}

const left = glue.match(/__wbg_\w+_[0-9a-f]{16}\b(?=:)/);
if (left) fail(`the import ${left[0]} kept its long name`);
writeFileSync(gluePath, glue);
