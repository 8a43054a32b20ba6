#!/usr/bin/env node
// Copy the prebuilt CesiumJS distribution (node_modules/cesium/Build/Cesium)
// to viewer/dist/cesium so the server can expose it at /cesium/.
//
// The copy is skipped when viewer/dist/cesium/.version already records the
// installed cesium package version. Pass --force to copy anyway.
import { cp, mkdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const viewerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkgDir = path.join(viewerDir, "node_modules", "cesium");
const srcDir = path.join(pkgDir, "Build", "Cesium");
const destDir = path.join(viewerDir, "dist", "cesium");
const versionFile = path.join(destDir, ".version");
const force = process.argv.includes("--force");

async function main() {
  if (!existsSync(srcDir)) {
    console.error(
      `copy-cesium: ${path.relative(viewerDir, srcDir)} not found; run "npm ci" in viewer/ first.`,
    );
    process.exit(1);
  }
  const { version } = JSON.parse(await readFile(path.join(pkgDir, "package.json"), "utf8"));

  if (!force && existsSync(versionFile)) {
    const current = (await readFile(versionFile, "utf8")).trim();
    if (current === version && existsSync(path.join(destDir, "Cesium.js"))) {
      // Refresh the timestamp so make-style checks (Cesium.js newer than package.json) pass.
      const now = new Date();
      await utimes(path.join(destDir, "Cesium.js"), now, now);
      console.log(`copy-cesium: dist/cesium already at cesium ${version}, nothing to do.`);
      return;
    }
  }

  const t0 = Date.now();
  await rm(destDir, { recursive: true, force: true });
  await mkdir(path.dirname(destDir), { recursive: true });
  await cp(srcDir, destDir, { recursive: true });
  // Written last, so an interrupted copy is redone on the next run.
  await writeFile(versionFile, `${version}\n`);
  console.log(`copy-cesium: copied cesium ${version} to dist/cesium in ${Date.now() - t0} ms.`);
}

main().catch((err) => {
  console.error(`copy-cesium: ${err.stack || err}`);
  process.exit(1);
});
