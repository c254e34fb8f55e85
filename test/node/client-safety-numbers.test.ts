import { describe, expect, it, vi } from "vitest";
import { Notices } from "../../client/app/features/notices.ts";
import { SafetyNumbers, trustLabel } from "../../client/app/features/safety-numbers.ts";
import { compareSafetyCode, readSafetyCode, safetyCodeText } from "../../client/app/safety-code.ts";
import type { ContactTrust } from "../../client/core/sdk.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import { ALICE, BOB, contactOf, deferred, relayId, safetyDigits, storeWith, trustOf } from "./client-fakes.ts";

const CAROL = relayId("carol");

/** SafetyNumbers over a fake SDK that keeps one trust record per contact, as the SDK's TrustBook does. */
function safetyOf(records: Record<string, ContactTrust> = { [BOB]: trustOf(BOB, "unverified") }) {
	const store = storeWith({
		phase: "ready",
		contacts: [contactOf(BOB, "accepted"), contactOf(ALICE, "accepted"), contactOf(CAROL, "outgoing")],
	});
	const known = { ...records };
	const find = (peerId: string) => {
		const record = known[peerId];
		if (!record) throw new SdkError("conflict", "That account has not published a signed device list yet.");
		return record;
	};
	const client = {
		contactTrust: vi.fn(async (peerId: string) => find(peerId)),
		setContactVerified: vi.fn(async (peerId: string, verified: boolean) => {
			const { changedAt: _, ...rest } = find(peerId);
			known[peerId] = { ...rest, state: verified ? "verified" : "unverified", blocked: false };
			return find(peerId);
		}),
		acknowledgeIdentityChange: vi.fn(async (peerId: string) => {
			const { changedAt: _, ...rest } = find(peerId);
			known[peerId] = { ...rest, state: "unverified", blocked: false };
			return find(peerId);
		}),
	};
	return { store, client, known, safety: new SafetyNumbers(store, client, new Notices(store)) };
}

describe("safety numbers and trust", () => {
	it("loads the trust of every accepted contact, and of no other; a contact without a signed list shows as a notice", async () => {
		const app = safetyOf();
		await app.safety.loadAll();
		expect(app.client.contactTrust.mock.calls.map(([peerId]) => peerId).sort()).toEqual([ALICE, BOB].sort());
		expect(app.store.state.trust).toEqual({ [BOB]: trustOf(BOB, "unverified") });
		expect(app.store.state.notices.map((n) => n.text)).toEqual([
			"@h_alice has not finished setting up their account's keys, so there is no safety number with them yet.",
		]);
	});

	it("reloads a contact whose trust the SDK reports changed", async () => {
		const app = safetyOf();
		await app.safety.load(BOB);
		app.known[BOB] = trustOf(BOB, "changed", { safetyNumber: safetyDigits(2), changedAt: 5 });
		app.safety.changed(BOB);
		await vi.waitFor(() => expect(app.store.state.trust[BOB]?.state).toBe("changed"));
		expect(trustLabel(app.store.state.trust[BOB])).toBe("safety number changed");
	});

	it("marks a contact verified and not verified after comparing by eye", async () => {
		const app = safetyOf();
		await app.safety.setVerified(BOB, true);
		expect(app.store.state.trust[BOB]?.state).toBe("verified");
		expect(trustLabel(app.store.state.trust[BOB])).toBe("verified");
		await app.safety.setVerified(BOB, false);
		expect(app.client.setContactVerified.mock.calls).toEqual([
			[BOB, true],
			[BOB, false],
		]);
		expect(trustLabel(app.store.state.trust[BOB])).toBe("not verified");
	});

	it("marks a contact verified when their scanned code holds the number computed here", async () => {
		const app = safetyOf();
		expect(await app.safety.compareScanned(BOB, safetyCodeText(safetyDigits(1)))).toBe("match");
		expect(app.client.setContactVerified).toHaveBeenCalledWith(BOB, true);
		expect(app.store.state.trust[BOB]?.state).toBe("verified");
	});

	it("leaves a contact as it was when the scanned code holds another number, or is no safety number at all", async () => {
		const app = safetyOf();
		expect(await app.safety.compareScanned(BOB, safetyCodeText(safetyDigits(2)))).toBe("mismatch");
		expect(await app.safety.compareScanned(BOB, "https://example.com/")).toBe("not_a_code");
		expect(app.client.setContactVerified).not.toHaveBeenCalled();
		expect(app.store.state.trust[BOB]?.state).toBe("unverified");
	});

	it("compares with the number as it is now, not as it was loaded: a change meanwhile is a mismatch", async () => {
		const app = safetyOf();
		await app.safety.load(BOB);
		app.known[BOB] = trustOf(BOB, "changed", { safetyNumber: safetyDigits(3) });
		expect(await app.safety.compareScanned(BOB, safetyCodeText(safetyDigits(1)))).toBe("mismatch");
		expect(app.store.state.trust[BOB]?.state).toBe("changed");
	});

	it("lets sending resume once the person acknowledged a verified contact's new identity", async () => {
		const app = safetyOf({ [BOB]: trustOf(BOB, "changed", { blocked: true, changedAt: 5 }) });
		await app.safety.load(BOB);
		expect(app.store.state.trust[BOB]?.blocked).toBe(true);
		await app.safety.acknowledge(BOB);
		expect(app.store.state.trust[BOB]).toEqual(trustOf(BOB, "unverified"));
	});

	it("keeps the newest answer for a contact when an older call answers last", async () => {
		const app = safetyOf();
		const slow = deferred<ContactTrust>();
		app.client.contactTrust.mockImplementationOnce(() => slow.promise);
		const loading = app.safety.load(BOB);
		await app.safety.setVerified(BOB, true);
		slow.resolve(trustOf(BOB, "unverified"));
		await loading;
		expect(app.store.state.trust[BOB]?.state).toBe("verified");
	});

	it("labels each state, and nothing before the trust is known", () => {
		expect(trustLabel(undefined)).toBeNull();
		expect(trustLabel(trustOf(BOB, "unverified"))).toBe("not verified");
		expect(trustLabel(trustOf(BOB, "verified"))).toBe("verified");
		expect(trustLabel(trustOf(BOB, "changed"))).toBe("safety number changed");
	});
});

describe("the safety number's QR code text", () => {
	const digits = safetyDigits(4);

	it("holds the 60 digits behind a prefix, in characters a QR code stores compactly", () => {
		const text = safetyCodeText(digits);
		expect(text).toBe(`SM-SAFETY-NUMBER-2:${digits.replace(/ /g, "")}`);
		expect(text).toMatch(/^[0-9A-Z $%*+\-./:]+$/);
		expect(readSafetyCode(text)).toBe(digits.replace(/ /g, ""));
	});

	it("reads no number from other codes, a shorter number or another version", () => {
		expect(readSafetyCode("alice-K7Q2M9-XD4HTR-PW3CZ5-NB8E1A")).toBeNull();
		expect(readSafetyCode(`SM-SAFETY-NUMBER-2:${"1".repeat(59)}`)).toBeNull();
		expect(readSafetyCode(`SM-SAFETY-NUMBER-1:${"1".repeat(60)}`)).toBeNull();
		expect(readSafetyCode(digits)).toBeNull();
	});

	it("compares a scanned code with the number shown, spaces aside", () => {
		expect(compareSafetyCode(safetyCodeText(digits), digits)).toBe("match");
		expect(compareSafetyCode(` ${safetyCodeText(digits).toLowerCase()}\n`, digits)).toBe("match");
		expect(compareSafetyCode(safetyCodeText(safetyDigits(5)), digits)).toBe("mismatch");
		expect(compareSafetyCode("hello", digits)).toBe("not_a_code");
	});
});
