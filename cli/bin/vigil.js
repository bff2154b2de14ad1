#!/usr/bin/env node
// Entry point linked as `vigil` (npx vigil ...). The CLI itself is compiled
// TypeScript in ../dist; `npm start` or `npm run build` produces it.
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const main = join(__dirname, "..", "dist", "main.js");
if (!existsSync(main)) {
  process.stderr.write(
    "vigil: not built yet: run `npm run build` (or `npm start`) in the Vigil checkout first\n",
  );
  process.exit(1);
}
require(main);
