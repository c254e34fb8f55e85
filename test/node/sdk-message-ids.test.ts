/**
 * Message ids are chosen by their sender and unique per sender only. A contact who reuses the
 * id of one of your messages (with a frame no key opens, and a delete after it) gets a message
 * of his own: the SDK reports his frame as his, and your message reaches your other device as
 * you sent it. A frame under your own account and one of your own ids (which only a relay can
 * make) is taken for what it is, that message again, and dropped.
 */
import { describe, expect, it } from "vitest";
import type { UndecryptableMessage } from "../../client/core/sdk.ts";
import { toB64u } from "../../common/encoding.ts";
import { randomBytes } from "../../common/nacl.ts";
import type { ClientFrame, ServerFrame } from "../../common/protocol/wire.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { collect, linkDevice, registerMember, relayForFile } from "../support/sdk-clients.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS });
const { factory } = relay;

describe("a contact reusing the id of your message", () => {
	it("gets his garbage reported as his own undecryptable message, and cannot keep yours from your other device", async () => {
		// Mallory's socket swaps the box of his texts for bytes no key opens, as a hostile client would send them.
		const garbling = interceptingWebSocket({
			outgoing: (data) => {
				const frame: ClientFrame = JSON.parse(data);
				if (frame.type !== "send" || frame.kind !== "text") return data;
				return JSON.stringify({ ...frame, box: toB64u(randomBytes(200)) });
			},
		});
		// Alice's laptop hears, through a hostile relay, one of Mallory's frames as if from Alice herself.
		const forge: { id?: string; as?: { accountId: string; deviceId: string } } = {};
		const forging = interceptingWebSocket({
			incoming: (data) => {
				const frame: ServerFrame = JSON.parse(data);
				if (frame.type !== "message" || frame.id !== forge.id || !forge.as) return data;
				return JSON.stringify({ ...frame, from: forge.as.accountId, fromDevice: forge.as.deviceId, to: frame.from });
			},
		});
		const alice = await registerMember(factory, "alice", forging);
		await alice.client.connect();
		const phone = await linkDevice(factory, alice, "phone");
		const mallory = await registerMember(factory, "mallory", garbling);
		await mallory.client.connect();
		const aliceId = alice.account.accountId;
		const malloryId = mallory.account.accountId;
		const requested = alice.client.waitFor("contact", (c) => c.event === "requested" && c.contact.accountId === malloryId);
		await mallory.client.requestContact(alice.account.handle);
		await requested;
		const accepted = mallory.client.waitFor("contact", (c) => c.event === "accepted" && c.contact.accountId === aliceId);
		await alice.client.acceptContact(malloryId);
		await accepted;

		// The phone is away: Alice's message waits for it as its sent-sync copy.
		phone.client.close();
		const atMallory = collect(mallory.client, 1);
		const mine = await alice.client.sendText(malloryId, "the plan, as I wrote it");
		expect((await atMallory)[0]?.id).toBe(mine.id);

		const garbage = alice.client.waitFor("undecryptable", (u: UndecryptableMessage) => u.id === mine.id);
		await mallory.client.sendText(aliceId, "anything", { id: mine.id });
		expect(await garbage).toMatchObject({ id: mine.id, from: malloryId, peerId: malloryId });

		// The same under the id of another message of Alice's, heard as Alice's own: dropped as
		// that message again (the laptop marked its own id as seen when it sent it), not shown as
		// an unreadable message of hers. Mallory's delete, which comes after it, is the mark.
		const other = await alice.client.sendText(malloryId, "another one");
		forge.id = other.id;
		forge.as = { accountId: aliceId, deviceId: alice.account.deviceId };
		const unreadable: UndecryptableMessage[] = [];
		const offUnreadable = alice.client.on("undecryptable", (u) => unreadable.push(u));
		const heard: string[] = [];
		const offHeard = alice.client.on("message", (m) => heard.push(m.id));
		await mallory.client.sendText(aliceId, "anything", { id: other.id });
		const hisDelete = collect(alice.client, 1);
		await mallory.client.deleteMessage(aliceId, mine.id);
		expect((await hisDelete)[0]).toMatchObject({ kind: "delete", replaces: mine.id, from: malloryId, outgoing: false });
		expect(unreadable).toEqual([]);
		expect(heard.filter((id) => id === other.id)).toEqual([]);
		offUnreadable();
		offHeard();

		// Back online, the phone gets Alice's message as she wrote it, and Mallory's delete (of his own).
		const again = factory.client(phone.store);
		const unreadableOnPhone: UndecryptableMessage[] = [];
		again.on("undecryptable", (u) => unreadableOnPhone.push(u));
		const arrived = collect(again, 3);
		const synced = again.waitFor("synced");
		await again.connect();
		const [first, second, third] = await arrived;
		expect(first).toMatchObject({
			id: mine.id,
			from: aliceId,
			peerId: malloryId,
			outgoing: true,
			kind: "text",
			text: "the plan, as I wrote it",
		});
		expect(second).toMatchObject({ id: other.id, from: aliceId, outgoing: true, text: "another one" });
		expect(third).toMatchObject({ kind: "delete", replaces: mine.id, from: malloryId, outgoing: false });
		// Mallory's frame under the second id was never his to delete: the phone reports it as his.
		expect(unreadableOnPhone).toEqual([expect.objectContaining({ id: other.id, from: malloryId })]);
		// Every copy was acked under its own sender: nothing stays queued.
		await synced;
		again.close();
		const last = factory.client(phone.store);
		const ready = last.waitFor("ready");
		await last.connect();
		expect((await ready).queued).toBe(0);
	});
});
