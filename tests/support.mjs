// Helpers shared by the JavaScript test suites: Chromium, the packed
// package tarball and the fixture apps under tests/fixtures/.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
export const FIXTURES_DIR = join(REPO_ROOT, "tests", "fixtures");

/** Flags for Debian's Chromium as root, with no network but loopback and no background traffic. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches Debian's headless Chromium with a fresh temporary profile. */
export function launchChromium() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, timeout: 15_000 });
}

/** Upper bound of one npm command: past it, npm (by its pid) gets SIGKILL and the call throws. */
const NPM_LIMIT = { timeout: 600_000, killSignal: "SIGKILL" };

/**
 * Returns the path of pkg/ packed with `npm pack`. scripts/test packs once and
 * passes the path in STAMPEDE_TARBALL; otherwise this packs into a new temporary folder.
 */
export function packTarball() {
  if (process.env.STAMPEDE_TARBALL) return process.env.STAMPEDE_TARBALL;
  const destination = mkdtempSync(join(tmpdir(), "stampede-pack-"));
  execFileSync("npm", ["pack", "--silent", "--pack-destination", destination, join(REPO_ROOT, "pkg")], {
    stdio: "ignore",
    ...NPM_LIMIT,
  });
  const [file] = readdirSync(destination).filter((name) => name.endsWith(".tgz"));
  return join(destination, file);
}

/**
 * Installs a fixture app's locked dependencies with `npm ci` (again only when
 * its package-lock.json changed), then the package tarball as a user would,
 * without saving it to the fixture's package.json or lock file. Returns the fixture's folder.
 */
export function installFixture(name, tarball = packTarball()) {
  const dir = join(FIXTURES_DIR, name);
  const lockHash = createHash("sha256").update(readFileSync(join(dir, "package-lock.json"))).digest("hex");
  const marker = join(dir, "node_modules", ".lock-hash");
  const npm = (...args) =>
    execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "inherit", ...NPM_LIMIT });

  if (!existsSync(marker) || readFileSync(marker, "utf8") !== lockHash) {
    npm("ci");
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    writeFileSync(marker, lockHash);
  }
  npm("install", "--no-save", tarball);
  return dir;
}
