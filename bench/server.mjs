// The local API for the call-overhead and memory figures: a keep-alive HTTP
// server on 127.0.0.1 that responds to every POST to the incoming-event path
// at once with the documented 200 body. bench/run.mjs forks it and reads its
// port from the first IPC message. It exits when that parent disconnects, and
// after an hour in any case.
import { createServer } from "node:http";
import { EVENT_PATH, RESPONSE_BODY } from "./lib/event.mjs";

const MAX_LIFETIME_MS = 60 * 60 * 1000;

const body = Buffer.from(RESPONSE_BODY);
const okHeaders = { "Content-Type": "application/json", "Content-Length": String(body.length) };
let responded = 0;

const server = createServer({ keepAliveTimeout: 120_000 }, (request, response) => {
  request.resume();
  request.on("end", () => {
    if (request.method === "POST" && request.url === EVENT_PATH) {
      responded += 1;
      response.writeHead(200, okHeaders).end(body);
    } else {
      response.writeHead(404, { "Content-Type": "application/json" }).end('{"message":"Not found."}');
    }
  });
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}

if (!process.send) {
  console.error("bench/server.mjs is started by bench/run.mjs (it reports its port over IPC)");
  process.exit(2);
}
process.on("disconnect", stop);
process.on("message", (message) => {
  if (message === "count") process.send({ responded });
});
setTimeout(stop, MAX_LIFETIME_MS).unref();
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
