// CommonJS entry, for require("stampede-workflows"). Node.js 20.19, 22.12 and
// later can require() an ES module without top-level await, which node.js is.
"use strict";

try {
  module.exports = require("./node.js");
} catch (error) {
  if (error && error.code === "ERR_REQUIRE_ESM") {
    throw new Error(
      "stampede-workflows is an ES module, and this Node.js version cannot require() one. " +
        'Use import { sendIncomingEvent } from "stampede-workflows", or await import("stampede-workflows") in CommonJS, ' +
        "or upgrade to Node.js 20.19 or later.",
      { cause: error },
    );
  }
  throw error;
}
