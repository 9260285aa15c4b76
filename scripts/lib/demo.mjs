// The demo's servers, all on 127.0.0.1: the mock Stampede API, which also
// serves the demo page and pkg/, and the relay Worker of examples/relay/ in
// miniflare, which keeps the mock's token so that the page's relay mode sends
// none. scripts/demo runs this file; tests import startDemo.
//
//   node scripts/lib/demo.mjs     PORT (default 8787) for the page and the mock,
//                                 RELAY_PORT (default PORT + 1) for the relay
import process from "node:process";
import { fileURLToPath } from "node:url";

import { startMockServer } from "../../www/mock/server.mjs";
import { freePort, startRelay } from "./relay.mjs";

const DEMO_TOKEN = "demo-token";
const PAGE_POLICY = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
// How long stopping may take before the process exits anyway, in milliseconds.
const STOP_TIMEOUT_MS = 5_000;

/**
 * Starts the mock and the relay. `port` 0 and `relayPort` 0 pick free ports.
 * `relayPort` defaults to port + 1, the port the page assumes when its URL has
 * no `relay` parameter. `log` receives one line per request and per relay
 * message, or is false.
 * Resolves to { pageUrl, mockUrl, relayUrl, mock, relay, close }.
 */
export async function startDemo({ port = 8787, relayPort, log = false } = {}) {
  let chosenRelayPort = relayPort ?? (port === 0 ? 0 : port + 1);
  if (chosenRelayPort === 0) chosenRelayPort = await freePort();
  if (!Number.isInteger(chosenRelayPort) || chosenRelayPort < 1 || chosenRelayPort > 65_535) {
    throw new TypeError(`The relay port must be from 1 to 65535, but it is ${chosenRelayPort}.`);
  }
  const relayOrigins = [`http://127.0.0.1:${chosenRelayPort}`, `http://localhost:${chosenRelayPort}`];

  // The page may connect to its own origin (the mock) and to the relay, nothing else.
  const mock = await startMockServer({
    host: "127.0.0.1",
    port,
    token: DEMO_TOKEN,
    contentSecurityPolicy: `${PAGE_POLICY}; connect-src 'self' ${relayOrigins.join(" ")}`,
    log: log ? (line) => log(`mock   ${line}`) : false,
  });
  let relay;
  try {
    relay = await startRelay({
      port: chosenRelayPort,
      token: DEMO_TOKEN,
      vars: {
        STAMPEDE_BASE_URL: mock.url,
        ALLOWED_ORIGINS: [`http://127.0.0.1:${mock.port}`, `http://localhost:${mock.port}`].join(" "),
      },
      onOutput: log ? (line) => log(`relay  ${line}`) : () => {},
    });
  } catch (error) {
    await mock.close();
    throw error;
  }

  const relayUrl = relay.url;
  const pageUrl = chosenRelayPort === mock.port + 1 ? mock.url : `${mock.url}?relay=${encodeURIComponent(relayUrl)}`;
  let closing = null;
  const close = () => {
    closing ??= Promise.allSettled([relay.close(), mock.close()]).then(() => undefined);
    return closing;
  };
  return { pageUrl, mockUrl: mock.url, relayUrl, mock, relay, close };
}

function readPort(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 65_535) {
    throw new TypeError(`${name} must be a port number from 0 to 65535, but it is "${value}".`);
  }
  return Number(value);
}

async function main() {
  let demo;
  // Registered before miniflare registers its own handlers, which stop workerd
  // and exit at once with 128 + the signal's number, so this line is printed first.
  const stop = (signal) => {
    console.log(`Stopping the mock and the relay (${signal}).`);
    setTimeout(() => {
      console.error(`Stopping timed out after ${STOP_TIMEOUT_MS} ms; exiting anyway.`);
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    demo?.close();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  try {
    const port = readPort("PORT", 8787);
    demo = await startDemo({ port, relayPort: readPort("RELAY_PORT", undefined), log: (line) => console.log(line) });
  } catch (error) {
    console.error(`error: the demo did not start: ${error.message}`);
    console.error("PORT sets the page's and the mock's port (default 8787), RELAY_PORT the relay's (default PORT + 1).");
    process.exitCode = 1;
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
    return;
  }
  console.log(`Demo page: ${demo.pageUrl}`);
  console.log(`Mock API:  ${demo.mockUrl} (access token "${DEMO_TOKEN}")`);
  console.log(`Relay:     ${demo.relayUrl} (sends to the mock with the token; the page's relay mode uses it)`);
  console.log("Press Ctrl-C to stop the mock and the relay.");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
