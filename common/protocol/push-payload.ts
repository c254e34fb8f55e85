import { type Infer, integer, object, oneOf } from "./schema.ts";

/**
 * What a Web Push carries, encrypted for the device (RFC 8291) and still nothing worth hiding:
 * no sender, no content, no message id. `count`: the events since the last push to the device.
 * Apart from wire.ts (which re-exports it) so that the service worker, which reads it, carries
 * this schema and not the whole protocol.
 */
export const PUSH_KINDS = ["message", "call"] as const;
export const pushPayload = object({
	v: integer({ min: 1, max: 1 }),
	kind: oneOf(PUSH_KINDS),
	count: integer({ min: 1, max: 1_000_000 }),
});
export type PushPayload = Infer<typeof pushPayload>;
