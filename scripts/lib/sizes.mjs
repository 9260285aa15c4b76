// Prints the size of each file the browser entry loads, raw and gzipped
// (level 9), and their total.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dir = process.argv[2] ?? "pkg";
const files = ["index.js", "client.js", "stampede_workflows.js", "stampede-error.js", "stampede_workflows_bg.wasm"];

let rawTotal = 0;
let gzipTotal = 0;
for (const file of files) {
  const bytes = readFileSync(join(dir, file));
  const gzipped = gzipSync(bytes, { level: 9 }).length;
  rawTotal += bytes.length;
  gzipTotal += gzipped;
  console.log(`${file.padEnd(30)} ${String(bytes.length).padStart(8)} B raw ${String(gzipped).padStart(8)} B gzip`);
}
console.log(`${"browser download".padEnd(30)} ${String(rawTotal).padStart(8)} B raw ${String(gzipTotal).padStart(8)} B gzip`);
