import { describe, expect, it, vi } from "vitest";
import { type ChatMessage, sentKey } from "../../client/app/chat-message.ts";
import { Account } from "../../client/app/features/account.ts";
import { Conversations } from "../../client/app/features/conversations.ts";
import { Notices } from "../../client/app/features/notices.ts";
import { OutgoingMessages, perPercent } from "../../client/app/features/outgoing-messages.ts";
import { Receipts } from "../../client/app/features/receipts.ts";
import { TypingIndicator } from "../../client/app/features/typing-indicator.ts";
import type { SendOptions } from "../../client/core/outbox.ts";
import type { SentReceipt } from "../../client/core/sdk.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import type { AccountStatus } from "../../common/protocol/wire.ts";
import { ALICE, BOB, deferred, MemoryHistory, receipt, relayId, storeWith } from "./client-fakes.ts";

const ACCOUNT: AccountStatus = { accountId: ALICE, handle: "alice", trust: "untrusted", credits: 100, quotaLeft: 20 };

/** The outgoing side of the app around a fake relay; `sendText` answers as the test says. */
function outbox(sendText: (peerId: string, text: string, options: SendOptions) => Promise<SentReceipt>) {
	const store = storeWith({ phase: "ready", account: ACCOUNT, conversations: { [BOB]: [] } });
	const history = new MemoryHistory();
	const calls: string[] = [];
	const client = {
		sendText: vi.fn(sendText),
		sendFile: vi.fn(),
		sendTyping: vi.fn(),
		accountStatus: vi.fn(async () => {
			calls.push("accountStatus");
			return store.state.account ?? ACCOUNT;
		}),
		creditHistory: vi.fn(),
		limits: vi.fn(),
	};
	const notices = new Notices(store);
	const conversations = new Conversations(store, history, () => true);
	const receipts = new Receipts(history, conversations);
	const typing = new TypingIndicator(store, client);
	const account = new Account(store, client, notices);
	const outgoing = new OutgoingMessages(store, client, history, conversations, receipts, typing, account);
	return { store, history, client, receipts, typing, account, outgoing, calls, shown: () => store.state.conversations[BOB] ?? [] };
}

describe("sending", () => {
	it("shows a text at once as sending and keeps it in the history, then shows it under the relay's id and time as sent", async () => {
		const answer = deferred<SentReceipt>();
		const app = outbox(() => answer.promise);
		const sending = app.outgoing.send(BOB, "hello");
		await vi.waitFor(() =>
			expect(app.client.sendText).toHaveBeenCalledWith(BOB, "hello", { signal: expect.any(AbortSignal), onWait: expect.any(Function) }),
		);
		const [local] = app.shown();
		expect(local).toMatchObject({ peerId: BOB, outgoing: true, text: "hello", state: "sending", pending: 1 });
		expect(local!.key).toMatch(/^local:[0-9a-f]{24}$/);
		expect([...app.history.messages.values()]).toEqual([local]);
		const id = relayId("m1");
		answer.resolve(receipt(id, 5_000, { credits: 97 }));
		await sending;
		const confirmed: ChatMessage = { key: sentKey(id), id, peerId: BOB, outgoing: true, text: "hello", at: 5_000, state: "sent" };
		expect(app.shown()).toEqual([confirmed]);
		expect([...app.history.messages.values()]).toEqual([confirmed]);
		expect(app.store.state.account?.credits).toBe(97);
		expect(app.calls).toEqual(["accountStatus"]);
	});

	it("keeps a refused send in the conversation and the history as failed, with the reason as a sentence", async () => {
		const app = outbox(async () => {
			throw new SdkError("not_a_contact", "not a contact");
		});
		await app.outgoing.send(BOB, "hello?");
		const [failed] = app.shown();
		expect(failed).toMatchObject({ text: "hello?", state: "failed", error: "You can only write to accepted contacts." });
		expect(failed).not.toHaveProperty("pending");
		expect([...app.history.messages.values()]).toEqual([failed]);
		expect(app.calls).toEqual([]);
	});

	it("shows when a message waiting for the send window goes, and takes it back on Cancel: gone, and never sent", async () => {
		let told: ((at: number | null) => void) | undefined;
		const app = outbox(
			(_peer, _text, { signal, onWait }) =>
				new Promise((_, reject) => {
					told = onWait;
					onWait?.(90_000);
					signal?.addEventListener("abort", () => reject(new SdkError("cancelled", "taken back")));
				}),
		);
		const sending = app.outgoing.send(BOB, "later");
		await vi.waitFor(() => expect(app.shown()[0]?.sendsAt).toBe(90_000));
		const [waiting] = app.shown();
		expect(waiting).toMatchObject({ text: "later", state: "sending" });
		// The relay's next answer moves the time; once on its way there is nothing to cancel.
		told?.(95_000);
		expect(app.shown()[0]?.sendsAt).toBe(95_000);
		expect(app.outgoing.cancel(app.shown()[0] as ChatMessage)).toBe(true);
		await sending;
		expect(app.shown()).toEqual([]);
		expect([...app.history.messages.values()]).toEqual([]);
		expect(app.calls).toEqual([]);
	});

	it("takes the time from a receipt that reached the limit as when the next send may go, before the account is read again", async () => {
		const app = outbox(async () => receipt(relayId("m9"), 5_000));
		app.account.charged({ ...receipt(relayId("m8"), 5_000), nextSendAt: 123_456 });
		expect(app.store.state.nextSendAt).toBe(123_456);
		// A message on its way has no Cancel.
		await app.outgoing.send(BOB, "one");
		expect(app.outgoing.cancel(app.shown()[0] as ChatMessage)).toBe(false);
	});

	it("asks the relay for the account again when a refusal means its credits or allowance changed", async () => {
		const app = outbox(async () => {
			throw new SdkError("insufficient_credits", "no credits");
		});
		await app.outgoing.send(BOB, "costly");
		expect(app.calls).toEqual(["accountStatus"]);
	});

	it("shows a send as delivered at once when a device reported it before the relay's confirmation came back", async () => {
		const id = relayId("m2");
		const device = relayId("bob_phone");
		const app = outbox(async () => {
			await app.receipts.delivered([id], device);
			return receipt(id, 6_000);
		});
		await app.outgoing.send(BOB, "quick");
		expect(app.shown()).toEqual([expect.objectContaining({ id, state: "delivered", deliveredTo: [device] })]);
		expect(await app.history.get(sentKey(id))).toMatchObject({ state: "delivered", deliveredTo: [device] });
	});

	it("sends a failed text again as a new message and drops the failed copy", async () => {
		let refuse = true;
		const app = outbox(async () => {
			if (refuse) throw new SdkError("recipient_queue_full", "full");
			return receipt(relayId("m3"), 7_000);
		});
		await app.outgoing.send(BOB, "again");
		const [failed] = app.shown();
		refuse = false;
		await app.outgoing.retry(failed!);
		expect(app.shown()).toEqual([expect.objectContaining({ key: sentKey(relayId("m3")), text: "again", state: "sent" })]);
		expect(app.history.messages.has(failed!.key)).toBe(false);
		expect(app.client.sendText).toHaveBeenCalledTimes(2);
	});

	it("only removes a failed file when asked to send it again: its bytes were not kept", async () => {
		const app = outbox(async () => receipt(relayId("never"), 1));
		const failedFile: ChatMessage = {
			key: "local:0",
			peerId: BOB,
			outgoing: true,
			text: "",
			file: { name: "a.pdf", size: 3, type: "application/pdf" },
			at: 1,
			state: "failed",
		};
		await app.history.put(failedFile);
		app.store.update({ conversations: { [BOB]: [failedFile] } });
		await app.outgoing.retry(failedFile);
		expect(app.shown()).toEqual([]);
		expect(app.history.messages.size).toBe(0);
		expect(app.client.sendText).not.toHaveBeenCalled();
	});

	it("lets the next keystroke after a send tell the contact at once that the user types", async () => {
		const app = outbox(async () => receipt(relayId("m4"), 8_000));
		app.typing.userTyping(BOB);
		app.typing.userTyping(BOB);
		expect(app.client.sendTyping).toHaveBeenCalledTimes(1);
		await app.outgoing.send(BOB, "done typing");
		app.typing.userTyping(BOB);
		expect(app.client.sendTyping).toHaveBeenCalledTimes(2);
	});

	it("reports an upload's progress once per whole percent", () => {
		const shares: number[] = [];
		const report = perPercent((share) => shares.push(share));
		for (const done of [0, 1, 5, 10, 11, 500, 999, 1000]) report(done, 1000);
		expect(shares).toEqual([0, 0.01, 0.5, 0.999, 1]);
		const empty: number[] = [];
		perPercent((share) => empty.push(share))(0, 0);
		expect(empty).toEqual([1]);
	});
});
