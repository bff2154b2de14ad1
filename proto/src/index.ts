// Public face of @vigil/proto: the generated wire contracts.
export * from "./gen/vigil/v1/agent";
export * from "./gen/vigil/v1/bus";
export * from "./gen/vigil/v1/enrollment";
export { reusedWriterEncoder } from "./reused-writer";
