import { AgentMessage, AgentServiceService } from "@vigil/proto";

/** What the Connect handler reads: the decoded message with its wire size, or why it did not decode. */
export type WireMessage =
  | { ok: true; message: AgentMessage; bytes: number }
  | { ok: false; error: string; bytes: number };

/**
 * AgentService.Connect with a deserializer that never throws: grpc-js answers
 * a throwing one with a bare INTERNAL "Error deserializing request", whereas
 * the session can then end the stream with INVALID_ARGUMENT naming what was
 * wrong. The wire size travels along for the in-flight byte accounting.
 */
export const agentConnectDefinition = {
  connect: {
    ...AgentServiceService.connect,
    requestDeserialize: (value: Buffer): WireMessage => {
      try {
        return { ok: true, message: AgentMessage.decode(value), bytes: value.byteLength };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return {
          ok: false,
          error: `malformed AgentMessage (${value.byteLength} bytes): ${reason}`,
          bytes: value.byteLength,
        };
      }
    },
  },
} as const;
