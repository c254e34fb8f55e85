import path from "node:path";
import { describe, expect, it } from "vitest";
import { openHistoryOffer } from "../../client/core/history-transfer.ts";
import { parseRecoveryWords, recoveryKeyPair } from "../../client/core/recovery-key.ts";
import { toB64u } from "../../common/encoding.ts";
import { sealedFileSize } from "../../common/file-layout.ts";
import { boxSecretKeyFromSeed, randomBytes } from "../../common/nacl.ts";
import type { ApproveDeviceRequest, ClientFrame, HistoryOffer } from "../../common/protocol/wire.ts";
import { RELAXED_LIMITS } from "../support/dev-server.ts";
import { interceptingWebSocket } from "../support/intercepting-web-socket.ts";
import { collect, contactPair, linkDevice, relayForFile } from "../support/sdk-clients.ts";
import { encodings, findings, readTree } from "../support/storage-scan.ts";

const relay = relayForFile({ vars: RELAXED_LIMITS }, "at-end");
const { factory } = relay;

const texts = (messages: { text: string }[]): string[] => messages.map((m) => m.text);

describe("zero knowledge at rest", () => {
	it("leaves no plaintext, contact key, device or identity secret, recovery key or history key in the relay's D1, Durable Object or R2 storage", async () => {
		const canary = `zk-canary-${Buffer.from(randomBytes(12)).toString("hex")}`;
		const plaintexts = [`${canary} hello`, `${canary} reply`, `${canary} queued 1`, `${canary} queued 2`];
		const sendFrames: string[] = [];
		const recording = interceptingWebSocket({
			outgoing: (data) => {
				const frame: ClientFrame = JSON.parse(data);
				if (frame.type === "send") sendFrames.push(frame.box);
				return data;
			},
		});

		// The history offers alice's approvals carry, as the relay receives them.
		const historyOffers: Array<HistoryOffer & { fromPublicKey: string }> = [];
		const aliceFetch: typeof fetch = async (input, init) => {
			if (String(input).endsWith("/approve") && typeof init?.body === "string") {
				const body: ApproveDeviceRequest = JSON.parse(init.body);
				const me = await alice.store.getIdentity();
				if (body.history && me) historyOffers.push({ ...body.history, fromPublicKey: toB64u(me.publicKey) });
			}
			return fetch(input, init);
		};
		const { alice, bob } = await contactPair(factory, { aliceSocket: recording, aliceFetch });
		// A linked device, so the relay also holds an identity-key envelope (and must hold it sealed).
		// …with alice's history sent to it and not yet imported, so the relay holds the sealed archive.
		const phone = await linkDevice(factory, alice, "alice's phone", { history: true });
		const transferId = phone.historyTransferId as string;
		const historyText = `${canary} history`;
		await alice.client.sendHistory(transferId, new Blob([historyText]));
		// A recovery key and the sealed key backup it opens: the relay holds only the backup's ciphertext.
		const recoveryWords = await alice.client.setUpRecovery();
		const aliceId = alice.account.accountId;
		const bobId = bob.account.accountId;
		const atBob = collect(bob.client, 1);
		await alice.client.sendText(bobId, plaintexts[0] ?? "");
		expect(texts(await atBob)).toEqual([plaintexts[0]]);
		const atAlice = collect(alice.client, 1);
		await bob.client.sendText(aliceId, plaintexts[1] ?? "");
		expect(texts(await atAlice)).toEqual([plaintexts[1]]);

		// Queued for an offline device: these stay on the relay's disk, as ciphertext.
		bob.client.close();
		phone.client.close();
		for (const text of plaintexts.slice(2)) await alice.client.sendText(bobId, text);
		const queuedBox = sendFrames.at(-1) ?? "";
		alice.client.close();
		await relay.server.stop();

		const files = readTree(relay.server.persistDir);
		const doFiles = files.filter((f) => f.path.includes(`${path.sep}do${path.sep}`));
		const d1Files = files.filter((f) => f.path.includes(`${path.sep}d1${path.sep}`));
		expect(doFiles.filter((f) => f.bytes.length > 0).length).toBeGreaterThan(0);
		expect(d1Files.filter((f) => f.bytes.length > 0).length).toBeGreaterThan(0);

		// The scanner finds what is meant to be there: handles in both stores, the queued ciphertext in the DO.
		const handle = Buffer.from(bob.account.handle);
		expect(d1Files.some((f) => f.bytes.includes(handle))).toBe(true);
		expect(doFiles.some((f) => f.bytes.includes(handle))).toBe(true);
		expect(queuedBox.length).toBeGreaterThan(0);
		expect(doFiles.some((f) => f.bytes.includes(Buffer.from(queuedBox)))).toBe(true);
		// …and finds bytes by their encodings: the queued box, decoded, is found through its base64url forms.
		const boxForms = encodings("queued box", Buffer.from(queuedBox, "base64url")).filter((e) => e.label.includes("base64url"));
		expect(findings(doFiles, boxForms).length).toBeGreaterThan(0);

		const secrets: Array<{ label: string; needle: Buffer }> = [];
		for (const [i, text] of plaintexts.entries()) secrets.push(...encodings(`plaintext ${i}`, Buffer.from(text)));
		secrets.push({ label: "canary", needle: Buffer.from(canary) });
		for (const member of [alice, bob, phone]) {
			const identity = await member.store.getIdentity();
			if (!identity?.account) throw new Error("identity missing from the store");
			secrets.push(...encodings(`${identity.handle}'s device seed`, identity.seed));
			secrets.push(...encodings(`${identity.handle}'s box secret key`, boxSecretKeyFromSeed(identity.seed)));
			secrets.push(...encodings(`${identity.handle}'s account identity seed`, identity.account.seed));
		}
		// The history archive is in R2, sealed: its plaintext and its one-time key are nowhere.
		const r2Files = files.filter((f) => f.path.includes(`${path.sep}r2${path.sep}`));
		expect(r2Files.some((f) => f.bytes.length === sealedFileSize(Buffer.byteLength(historyText)))).toBe(true);
		secrets.push(...encodings("history plaintext", Buffer.from(historyText)));
		const phoneIdentity = await phone.store.getIdentity();
		if (!phoneIdentity) throw new Error("the phone's identity is missing");
		const offer = historyOffers.find((o) => o.transferId === transferId);
		if (!offer) throw new Error("the history offer was not seen");
		secrets.push(...encodings("history key", openHistoryOffer(phoneIdentity, offer)));
		const recovery = recoveryKeyPair(parseRecoveryWords(recoveryWords));
		secrets.push(...encodings("recovery key seed", recovery.seed));
		secrets.push(...encodings("recovery key entropy", parseRecoveryWords(recoveryWords)));
		secrets.push({ label: "recovery words", needle: Buffer.from(recoveryWords) });
		const contactKey = await alice.store.getContactKey(bobId, 1);
		if (!contactKey) throw new Error("contact key missing from the store");
		expect(await bob.store.getContactKey(aliceId, 1)).toEqual(contactKey);
		secrets.push(...encodings("contact key", contactKey));

		expect(findings(files, secrets)).toEqual([]);
		// Nor in what the relay logged.
		expect(relay.server.output()).not.toContain(canary);
	});
});
