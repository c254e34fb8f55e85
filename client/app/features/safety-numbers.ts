import type { ContactTrust, MessengerClient } from "../../core/sdk.ts";
import { toSdkError } from "../../core/sdk-error.ts";
import { compareSafetyCode, type SafetyComparison } from "../safety-code.ts";
import type { MessengerStore } from "../store.ts";
import type { Notices } from "./notices.ts";

export type SafetyNumbersClient = Pick<MessengerClient, "contactTrust" | "setContactVerified" | "acknowledgeIdentityChange">;

/** How a contact's trust reads in the contact list and the chat header. */
export function trustLabel(trust: ContactTrust | undefined): string | null {
	if (!trust) return null;
	if (trust.state === "changed") return "safety number changed";
	return trust.state === "verified" ? "verified" : "not verified";
}

/**
 * What this device trusts about each contact's identity key (see ContactTrust): loaded for
 * every accepted contact, reloaded when the SDK reports a change, and changed by the person —
 * verified after comparing safety numbers (by eye or by scanning the other's code), or an
 * identity change acknowledged. Each answer is applied only if no later call for the same
 * contact started meanwhile, so a slow load cannot undo a newer state.
 */
export class SafetyNumbers {
	private readonly calls = new Map<string, number>();

	constructor(
		private readonly store: MessengerStore,
		private readonly client: SafetyNumbersClient,
		private readonly notices: Notices,
	) {}

	/**
	 * Fetch one contact's trust; a failure shows as a notice (the SDK reports refused device
	 * lists itself, and notices show one text once). `conflict` is a contact whose account has
	 * no signed device list yet, so no identity key to compare.
	 */
	async load(peerId: string): Promise<void> {
		try {
			await this.apply(peerId, () => this.client.contactTrust(peerId));
		} catch (err) {
			if (toSdkError(err).code !== "conflict") return this.notices.report(err);
			const handle = this.store.state.contacts.find((c) => c.accountId === peerId)?.handle ?? "a contact";
			this.notices.notify(
				`@${handle} has not finished setting up their account's keys, so there is no safety number with them yet.`,
				"info",
			);
		}
	}

	/** Every accepted contact's trust, as after start-up or a reconnect. */
	async loadAll(): Promise<void> {
		const accepted = this.store.state.contacts.filter((c) => c.state === "accepted");
		await Promise.all(accepted.map((c) => this.load(c.accountId)));
	}

	/** A `trust` event: the SDK saw an identity change, or another call here changed the state. */
	changed(peerId: string): void {
		void this.load(peerId);
	}

	/** After comparing the safety numbers by eye: verified, or not (any more). */
	async setVerified(peerId: string, verified: boolean): Promise<void> {
		await this.apply(peerId, () => this.client.setContactVerified(peerId, verified));
	}

	/**
	 * The text of a QR code the person scanned (the other person's safety number code) against
	 * the number this device computes now; a match marks the contact verified.
	 */
	async compareScanned(peerId: string, scanned: string): Promise<SafetyComparison> {
		const current = await this.apply(peerId, () => this.client.contactTrust(peerId));
		const verdict = compareSafetyCode(scanned, current.safetyNumber);
		if (verdict === "match") await this.setVerified(peerId, true);
		return verdict;
	}

	/** The person looked at a contact's new identity: sending works again; not verified until compared anew. */
	async acknowledge(peerId: string): Promise<void> {
		await this.apply(peerId, () => this.client.acknowledgeIdentityChange(peerId));
	}

	private async apply(peerId: string, call: () => Promise<ContactTrust>): Promise<ContactTrust> {
		const number = (this.calls.get(peerId) ?? 0) + 1;
		this.calls.set(peerId, number);
		const trust = await call();
		if (this.calls.get(peerId) === number) this.store.update({ trust: { ...this.store.state.trust, [peerId]: trust } });
		return trust;
	}
}
