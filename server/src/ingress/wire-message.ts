import { AgentMessage, AgentServiceService } from "@vigil/proto";

/**
 * What the Connect handler reads: the AgentMessage as received, decoded only
 * when the session gets to it. A queued batch then costs its wire size, not
 * the several times that its decoded events take, so the in-flight byte
 * bound is close to the memory it stands for.
 */
export type WireMessage = Buffer;

/** AgentMessage.body = batch is field 2, length-delimited: tag byte 0x12. */
const BATCH_TAG = 0x12;

/** True when the message is (or claims to be) an EventBatch. */
export function isBatchMessage(wire: WireMessage): boolean {
  return wire.byteLength > 0 && wire[0] === BATCH_TAG;
}

/** The decoded message, or what was wrong with it (for the agent: INVALID_ARGUMENT). */
export function decodeAgentMessage(
  wire: WireMessage,
): { ok: true; message: AgentMessage } | { ok: false; error: string } {
  try {
    return { ok: true, message: AgentMessage.decode(wire) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `malformed AgentMessage (${wire.byteLength} bytes): ${reason}` };
  }
}

/**
 * AgentService.Connect handing the session the received bytes: decoding
 * happens in the session (decodeAgentMessage), where a malformed message ends
 * the stream with INVALID_ARGUMENT naming what was wrong, instead of grpc-js's
 * bare INTERNAL "Error deserializing request".
 */
export const agentConnectDefinition = {
  connect: {
    ...AgentServiceService.connect,
    requestDeserialize: (value: Buffer): WireMessage => value,
  },
} as const;
