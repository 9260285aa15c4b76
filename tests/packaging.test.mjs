// Packaging checks of the packed tarball with the tools users run: publint,
// @arethetypeswrong/cli and the exact list of shipped files. Strict TypeScript
// fixtures (tests/fixtures/types/) compile under every module resolution the
// package claims, with TypeScript 7 and 5.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";

import { FIXTURES_DIR, installFixture, packTarball } from "./support.mjs";

/** What users need, and nothing else. */
const SHIPPED_FILES = [
  "package.json",
  "README.md",
  "index.js",
  "node.js",
  "node.cjs",
  "workerd.js",
  "index.d.ts",
  "index.d.cts",
  "stampede_workflows_bg.wasm",
  "LICENSE",
];

/** The resolution modes that attw's strict profile checks. The package claims all four. */
const RESOLUTION_KINDS = ["node10", "node16-cjs", "node16-esm", "bundler"];

/** The compilers that check the fixtures: the current major and the last one written in JavaScript. */
const COMPILERS = ["typescript", "typescript-5"];
const LOCK = JSON.parse(readFileSync(join(FIXTURES_DIR, "types", "package-lock.json"), "utf8"));
const compilerVersion = (compiler) => LOCK.packages[`node_modules/${compiler}`].version;

/** The resolution modes, each with a committed tsconfig that lists the fixtures it compiles. */
const MODES = ["nodenext", "bundler"];

const TOOL_TIMEOUT_MS = 120_000;

let tarball;
let fixture;

before(
  () => {
    tarball = packTarball();
    fixture = installFixture("types", tarball);
    rmSync(join(fixture, "dist"), { recursive: true, force: true });
  },
  { timeout: 600_000 },
);

/** Runs a command in the fixture, bounded in time, and returns its exit status and output. */
function run(command, args) {
  const result = spawnSync(command, args, { cwd: fixture, encoding: "utf8", timeout: TOOL_TIMEOUT_MS });
  if (result.error) throw result.error;
  assert.equal(result.signal, null, `${basename(command)} was stopped by ${result.signal}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

/** Imports a package installed in the fixture. */
async function importFromFixture(specifier) {
  const require = createRequire(join(fixture, "package.json"));
  return import(pathToFileURL(require.resolve(specifier)).href);
}

/** Reads one file of the tarball. */
function readFromTarball(name) {
  return execFileSync("tar", ["-xzOf", tarball, `package/${name}`], { encoding: "utf8" });
}

describe("the tarball", () => {
  test("publint reports no error, warning or suggestion", async () => {
    const { publint } = await importFromFixture("publint");
    const { formatMessage } = await importFromFixture("publint/utils");
    const bytes = readFileSync(tarball);
    const { messages, pkg } = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
      level: "suggestion",
    });
    const reported = messages.map((message) => `${message.type}: ${formatMessage(message, pkg, { color: false })}`);
    assert.deepEqual(reported, []);
  });

  test("attw finds no resolution problem", () => {
    const attw = join(fixture, "node_modules", ".bin", "attw");
    const { status, stdout, output } = run(attw, [tarball, "--format", "json", "--profile", "strict", "--no-definitely-typed"]);
    let report;
    try {
      report = JSON.parse(stdout);
    } catch {
      assert.fail(`attw printed no JSON report (exit ${status}):\n${output}`);
    }

    const { analysis } = report;
    assert.deepEqual(analysis.problems, [], JSON.stringify(analysis.problems, null, 2));
    assert.equal(analysis.types.kind, "included");
    const resolutions = analysis.entrypoints["."].resolutions;
    assert.deepEqual(Object.keys(resolutions).sort(), [...RESOLUTION_KINDS].sort());
    for (const kind of RESOLUTION_KINDS) {
      const { resolution, implementationResolution } = resolutions[kind];
      assert.match(resolution?.fileName ?? "", /\/stampede-workflows\/index\.d\.c?ts$/, `${kind} finds no declarations`);
      assert.ok(implementationResolution?.fileName, `${kind} finds no JavaScript`);
    }
    assert.equal(status, 0, output);
  });

  test("contains exactly the files users need", () => {
    const listed = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n").filter(Boolean);
    const names = listed.map((entry) => entry.replace(/^package\//, ""));
    assert.deepEqual([...names].sort(), [...SHIPPED_FILES].sort());
  });

  test("declarations match for import and require", () => {
    assert.equal(readFromTarball("index.d.cts"), readFromTarball("index.d.ts"));
  });

  test("declarations contain no any", () => {
    const code = readFromTarball("index.d.ts")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    const lines = code.split("\n").filter((line) => /\bany\b/.test(line));
    assert.deepEqual(lines, []);
  });
});

/** Reads the files of a mode's tsconfig, split into those that must compile cleanly and the misuse fixtures. */
function fixtureFiles(mode) {
  const { files } = JSON.parse(readFileSync(join(fixture, `tsconfig.${mode}.json`), "utf8"));
  return {
    clean: files.filter((file) => !file.startsWith("misuse.")),
    misuse: files.filter((file) => file.startsWith("misuse.")),
  };
}

/** Writes a tsconfig under dist/ that extends the mode's and lists the given files, and returns its path. */
function writeConfig(folder, mode, files) {
  const dir = join(fixture, "dist", folder);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `tsconfig.${mode}.json`);
  const base = join(fixture, `tsconfig.${mode}.json`);
  writeFileSync(path, JSON.stringify({ extends: base, files: files.map((file) => join(fixture, file)) }, null, 2));
  return path;
}

/** Runs tsc -p CONFIG --strict --noEmit and returns its exit status, output and errors as "file:line TScode". */
function tsc(compiler, config) {
  const bin = join(fixture, "node_modules", compiler, "bin", "tsc");
  const { status, output } = run(process.execPath, [bin, "-p", config, "--strict", "--noEmit", "--pretty", "false"]);
  const errors = [...output.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+):/gm)].map(
    ([, file, line, code]) => `${basename(file)}:${line} ${code}`,
  );
  return { status, output, errors: [...new Set(errors)].sort() };
}

/**
 * Copies the misuse files into dist/stripped/ with their directives made inert,
 * and returns the copies' names and the errors the directives name, as
 * "file:line TScode" for the line below each directive.
 */
function stripDirectives(files) {
  const dir = join(fixture, "dist", "stripped");
  mkdirSync(dir, { recursive: true });
  const directive = /^(\s*\/\/ )@ts-expect-error\b/;
  const expected = [];
  for (const file of files) {
    const lines = readFileSync(join(fixture, file), "utf8").split("\n");
    lines.forEach((line, index) => {
      if (!directive.test(line)) return;
      const code = /@ts-expect-error (TS\d+)\b/.exec(line)?.[1];
      assert.ok(code, `${file}:${index + 1}: the directive names no error code`);
      expected.push(`${basename(file)}:${index + 2} ${code}`);
    });
    writeFileSync(join(dir, file), lines.map((line) => line.replace(directive, "$1(expected error)")).join("\n"));
  }
  return { copies: files.map((file) => join("dist", "stripped", file)), expected: expected.sort() };
}

for (const compiler of COMPILERS) {
  for (const mode of MODES) {
    describe(`TypeScript ${compilerVersion(compiler)}, ${mode} resolution`, () => {
      test("correct use compiles under --strict", () => {
        const { clean } = fixtureFiles(mode);
        const { status, output } = tsc(compiler, writeConfig("clean", mode, clean));
        assert.equal(output, "");
        assert.equal(status, 0);
      });

      test("misuse errors match their directives", () => {
        const { misuse } = fixtureFiles(mode);
        const asWritten = tsc(compiler, writeConfig("misuse", mode, misuse));
        assert.equal(asWritten.output, "", "tsc reports a directive whose line compiles as TS2578");
        assert.equal(asWritten.status, 0);

        const { copies, expected } = stripDirectives(misuse);
        assert.ok(expected.length > 0);
        const stripped = tsc(compiler, writeConfig("stripped", mode, copies));
        const missing = expected.filter((error) => !stripped.errors.includes(error));
        const unexpected = stripped.errors.filter((error) => !expected.includes(error));
        assert.deepEqual(
          { missing, unexpected },
          { missing: [], unexpected: [] },
          `without the directives, the errors should be exactly those they name\n` +
            `missing: ${missing.join(", ") || "none"}\nunexpected: ${unexpected.join(", ") || "none"}\n${stripped.output}`,
        );
        assert.notEqual(stripped.status, 0);
      });
    });
  }
}
