// Runs the relay Worker of examples/relay/ in miniflare on 127.0.0.1, for the
// tests and scripts/demo. Its `import ... from "stampede-workflows"` resolves to
// the built pkg/ through the package's workerd export, the entry wrangler
// picks for a deployed Worker, so no install and no wrangler run are needed.
import { readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare } from "miniflare";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const RELAY_DIR = join(REPO_ROOT, "examples", "relay");
const PKG_DIR = join(REPO_ROOT, "pkg");
// Upper bound of miniflare's start, in milliseconds.
const START_TIMEOUT_MS = 30_000;

/**
 * Starts the relay. Options:
 * - vars: the Worker's vars (STAMPEDE_BASE_URL, ALLOWED_ORIGINS, MAX_BODY_BYTES,
 *   STAMPEDE_TIMEOUT_MS, PATH_PREFIX). STAMPEDE_BASE_URL must be http://127.x.x.x,
 *   so nothing started here can reach the real Stampede host. It may be left
 *   out only together with an outboundService, which then gets every request.
 * - token: the STAMPEDE_TOKEN secret, bound as a secret is.
 * - port: the port on 127.0.0.1, default 0 (a free one).
 * - outboundService: miniflare's option that receives the Worker's fetches.
 * - onOutput: called with each line workerd prints (the Worker's console
 *   included) instead of printing it.
 * Resolves to { url, miniflare, close }; url is "http://127.0.0.1:PORT/".
 */
export async function startRelay({ vars = {}, token, port = 0, outboundService, onOutput } = {}) {
  if (outboundService === undefined && !isLoopbackHttpUrl(vars.STAMPEDE_BASE_URL)) {
    throw new TypeError(
      `startRelay needs STAMPEDE_BASE_URL on http://127.x.x.x, but it is ${JSON.stringify(vars.STAMPEDE_BASE_URL)}; ` +
        "the relay's default is the real Stampede host.",
    );
  }
  const bindings = { ...vars };
  if (token !== undefined) bindings.STAMPEDE_TOKEN = token;

  const miniflare = new Miniflare({
    host: "127.0.0.1",
    port,
    modules: relayModules(),
    modulesRoot: "/",
    compatibilityDate: compatibilityDate(),
    bindings,
    ...(outboundService === undefined ? {} : { outboundService }),
    ...(onOutput === undefined ? {} : { handleRuntimeStdio: (stdout, stderr) => forwardLines([stdout, stderr], onOutput) }),
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`miniflare did not start the relay within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  });
  let url;
  try {
    url = await Promise.race([miniflare.ready, timeout]);
  } catch (error) {
    await miniflare.dispose().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { url: String(url), miniflare, close: () => miniflare.dispose() };
}

function forwardLines(streams, onOutput) {
  for (const stream of streams) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop();
      for (const line of lines) onOutput(line);
    });
    stream.on("end", () => {
      if (pending !== "") onOutput(pending);
    });
  }
}

/** Resolves to a port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function isLoopbackHttpUrl(value) {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return url.protocol === "http:" && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
  } catch {
    return false;
  }
}

/** Reads the compatibility_date of examples/relay/wrangler.toml, so the local run matches a deployment. */
function compatibilityDate() {
  const toml = readFileSync(join(RELAY_DIR, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml)?.[1];
  if (!date) throw new Error("examples/relay/wrangler.toml has no compatibility_date");
  return date;
}

/**
 * The relay's modules and the package's, side by side at the root of
 * workerd's module tree: workerd resolves the bare "stampede-workflows" next
 * to the importing module, so the package's workerd entry goes there under
 * that name, followed by the files it imports.
 */
function relayModules() {
  const source = join(RELAY_DIR, "src");
  const relayFiles = readdirSync(source).filter((name) => name.endsWith(".js"));
  const manifest = JSON.parse(readFileSync(join(PKG_DIR, "package.json"), "utf8"));
  const entry = manifest.exports["."].workerd.default.replace(/^\.\//, "");
  const packageFiles = importedFiles(entry);

  const clash = relayFiles.find((name) => packageFiles.includes(name) || name === "stampede-workflows");
  if (clash) throw new Error(`examples/relay/src/${clash} has the name of a file of the package; rename it`);

  const modules = [
    { type: "ESModule", path: "/index.js", contents: readFileSync(join(source, "index.js"), "utf8") },
    ...relayFiles
      .filter((name) => name !== "index.js")
      .map((name) => ({ type: "ESModule", path: `/${name}`, contents: readFileSync(join(source, name), "utf8") })),
    { type: "ESModule", path: "/stampede-workflows", contents: readFileSync(join(PKG_DIR, entry), "utf8") },
  ];
  for (const name of packageFiles) {
    const file = join(PKG_DIR, name);
    modules.push(
      name.endsWith(".wasm")
        ? { type: "CompiledWasm", path: `/${name}`, contents: readFileSync(file) }
        : { type: "ESModule", path: `/${name}`, contents: readFileSync(file, "utf8") },
    );
  }
  return modules;
}

/** The files of pkg/ that `entry` imports, directly or through each other (the entry itself excluded). */
function importedFiles(entry) {
  const found = [];
  const pending = [entry];
  // Bounded by the number of files in pkg/: each is visited once.
  while (pending.length > 0) {
    const name = pending.pop();
    if (name.endsWith(".wasm")) continue;
    const text = readFileSync(join(PKG_DIR, name), "utf8");
    for (const [, specifier] of text.matchAll(/(?:\bfrom|\bimport)\s*["']\.\/([^"']+)["']/g)) {
      if (specifier === entry || found.includes(specifier)) continue;
      found.push(specifier);
      pending.push(specifier);
    }
  }
  return found;
}
