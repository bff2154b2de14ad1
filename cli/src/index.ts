// Public face of @vigil/cli: the embedded launcher, for tests and embedding.

export type { EmbeddedOptions, EmbeddedVigil } from "./commands/embedded";
export { startEmbedded } from "./commands/embedded";
export { defaultDataDir } from "./data-dir";
