import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readSocketState } from "../../worker/relay/sockets/socket-state.ts";
import { contactPair, sealedAck, sealedSend } from "./fixtures.ts";
import { connect } from "./helpers.ts";

const relay = (accountId: string) => env.USERS.get(env.USERS.idFromName(accountId));

// A socket's state is read on every frame, push and ack. The object keeps a copy written
// through with the attachment, so the steady state deserializes nothing, and the attachment
// (what a wake from hibernation reads) always says what the copy says.
describe("a socket's state", () => {
	it("is read from memory on every frame and push, and the attachment stays equal to it", async () => {
		const { alice, bob, key } = await contactPair();
		const a = await connect(alice.token);
		const b = await connect(bob.token);
		const first = sealedSend(alice, bob, key, "one");
		a.send(first);
		await b.next("message", (m) => m.id === first.id);
		// From here on, count every deserialization of any socket's attachment, in every object.
		const proto = WebSocket.prototype as WebSocket & { reads?: number };
		const original = proto.deserializeAttachment;
		proto.reads = 0;
		proto.deserializeAttachment = function (this: WebSocket) {
			proto.reads = (proto.reads ?? 0) + 1;
			return original.call(this);
		};
		const count = (accountId: string) =>
			runInDurableObject(relay(accountId), (_, state) => {
				const ws = state.getWebSockets()[0] as WebSocket;
				const copy = readSocketState(ws);
				return { reads: proto.reads ?? 0, copy, attachment: original.call(ws) };
			});
		const before = { alice: (await count(alice.accountId)).reads, bob: (await count(bob.accountId)).reads };
		for (const text of ["two", "three"]) {
			const frame = sealedSend(alice, bob, key, text);
			a.send(frame);
			await a.next("sent", (s) => s.id === frame.id);
			await b.next("message", (m) => m.id === frame.id);
			b.send(sealedAck(bob, alice, key, [frame.id]));
		}
		await a.next("receipt");
		const after = { alice: await count(alice.accountId), bob: await count(bob.accountId) };
		proto.deserializeAttachment = original;
		// Two sends, two pushes, two acks and the receipts: not one read of the attachment.
		expect(after.alice.reads - before.alice).toBe(0);
		expect(after.bob.reads - before.bob).toBe(0);
		expect(after.bob.copy).toEqual(after.bob.attachment);
		expect(after.bob.copy?.sentUpTo).toBeGreaterThan(0);
		expect(after.alice.copy).toEqual(after.alice.attachment);
	});
});
