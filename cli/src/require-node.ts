// Imported first by main.ts: on a Node.js too old for Vigil (node:sqlite,
// fetch, zod 4), say so instead of failing on the first missing builtin.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 5)) {
  process.stderr.write(
    `vigil: Node.js 22.5 or newer is required (this is ${process.version}); ` +
      "run `npx vigil` in the Vigil checkout, which uses the Node.js 24 that `npm ci` installed\n",
  );
  process.exit(1);
}
