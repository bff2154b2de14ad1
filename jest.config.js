// One jest run for every workspace. Sources are transformed by swc straight
// from TypeScript, and @vigil/* imports resolve to the sibling's src/ so tests
// never depend on a stale build.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: [
    "<rootDir>/proto",
    "<rootDir>/common",
    "<rootDir>/agent",
    "<rootDir>/server",
    "<rootDir>/hub",
    "<rootDir>/cli",
    "<rootDir>/test",
    "<rootDir>/rules",
  ],
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/"],
  // ESM-only dependencies that Node 24 loads with require(esm) but jest's module
  // loader cannot: compiled to CommonJS for tests (content-disposition: @fastify/static).
  transformIgnorePatterns: ["/node_modules/(?!content-disposition/)"],
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      { jsc: { target: "es2023", parser: { syntax: "typescript" } }, module: { type: "commonjs" } },
    ],
    "/node_modules/content-disposition/.+\\.js$": [
      "@swc/jest",
      { jsc: { target: "es2023" }, module: { type: "commonjs" } },
    ],
  },
  moduleNameMapper: {
    "^@vigil/(proto|common|agent|server|hub|cli)$": "<rootDir>/$1/src/index.ts",
  },
  testTimeout: 60000,
};
