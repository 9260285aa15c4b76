// Prints the size of each file the browser entry loads, raw and gzipped
// (level 9), and their total. The files are found by following the entry's
// imports, as the benchmark and the size check find them, so no list can drift.
import { browserDownload } from "../../bench/lib/size.mjs";

const dir = process.argv[2] ?? "pkg";
const { files, total } = await browserDownload(dir);

const line = (name, sizes) =>
  `${name.padEnd(30)} ${String(sizes.raw).padStart(8)} B raw ${String(sizes.gzip).padStart(8)} B gzip`;
for (const file of files) console.log(line(file.file, file));
console.log(line("browser download", total));
