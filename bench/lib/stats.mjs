// Small statistics and formatting helpers for the benchmark's figures.

export function median(values) {
  return percentile(values, 50);
}

// Nearest-rank percentile of an unsorted list.
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export const KB = 1024;

export function kb(bytes, digits = 1) {
  return `${(bytes / KB).toFixed(digits)} KB`;
}

export function ms(value, digits = 2) {
  return `${value.toFixed(digits)} ms`;
}

export function ratio(value) {
  return `${value.toFixed(2)}×`;
}

export function perSecond(value) {
  return `${Math.round(value).toLocaleString("en-US")}/s`;
}

// Prints rows (arrays of cells) under a header, each column as wide as its
// widest cell; text columns are left-aligned and the others right-aligned.
export function printTable(header, rows, leftColumns = 1) {
  const widths = header.map((cell, i) => Math.max(String(cell).length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) =>
    cells
      .map((cell, i) => (i < leftColumns ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((width) => "-".repeat(width)).join("  "));
  for (const row of rows) console.log(line(row));
}
