import type { Contact } from "../../../common/protocol/wire.ts";
import type { MessengerClient } from "../../core/sdk.ts";
import { mergeContacts } from "../contact-merge.ts";
import type { MessengerStore } from "../store.ts";
import type { Notices } from "./notices.ts";

export type ContactsClient = Pick<
	MessengerClient,
	"contacts" | "requestContact" | "acceptContact" | "declineContact" | "setCallPermission" | "blockContact" | "unblockContact" | "report"
>;

/** The list with `contact` in place of its earlier entry, or added. */
export function withContact(contacts: readonly Contact[], contact: Contact): Contact[] {
	return [...contacts.filter((c) => c.accountId !== contact.accountId), contact];
}

/** The news a `contact` event brings, if the user should hear of it. */
export function contactNotice(event: string, contact: Contact): string | null {
	if (event === "requested" && contact.state === "incoming") return `@${contact.handle} asks to be your contact.`;
	if (event === "accepted") return `You and @${contact.handle} are now contacts.`;
	if (event === "declined" && contact.state === "declined") return `@${contact.handle} declined your contact request.`;
	return null;
}

/**
 * Loads of the relay's contact list, and the contacts that changed while any was under way:
 * a snapshot may predate such a change, so each load is merged with them (see mergeContacts).
 * They are kept until the last overlapping load is done.
 */
export class ContactLoads {
	private running = 0;
	private readonly changedMeanwhile = new Map<string, Contact>();

	async load(fetch: () => Promise<Contact[]>): Promise<Contact[]> {
		this.running++;
		try {
			return mergeContacts(await fetch(), this.changedMeanwhile.values());
		} finally {
			if (--this.running === 0) this.changedMeanwhile.clear();
		}
	}

	changed(contact: Contact): void {
		if (this.running > 0) this.changedMeanwhile.set(contact.accountId, contact);
	}
}

/** The contact list: what the user asks of the relay about contacts, and what it tells of them. */
export class Contacts {
	private readonly loads = new ContactLoads();

	constructor(
		private readonly store: MessengerStore,
		private readonly client: ContactsClient,
		private readonly notices: Notices,
	) {}

	find(peerId: string): Contact | undefined {
		return this.store.state.contacts.find((c) => c.accountId === peerId);
	}

	async request(handle: string): Promise<Contact> {
		const contact = await this.client.requestContact(handle);
		this.put(contact);
		return contact;
	}

	async accept(peerId: string): Promise<void> {
		this.put(await this.client.acceptContact(peerId));
	}

	async decline(peerId: string): Promise<void> {
		this.put(await this.client.declineContact(peerId));
	}

	async setCallPermission(peerId: string, allow: boolean): Promise<void> {
		this.put(await this.client.setCallPermission(peerId, allow));
	}

	async block(peerId: string): Promise<void> {
		this.put(await this.client.blockContact(peerId));
	}

	async unblock(peerId: string): Promise<void> {
		this.put(await this.client.unblockContact(peerId));
	}

	async report(peerId: string, reason: string, block: boolean): Promise<void> {
		await this.client.report(peerId, reason, block);
		if (block) await this.refresh();
	}

	async refresh(): Promise<void> {
		try {
			this.store.update({ contacts: await this.load() });
		} catch (err) {
			this.notices.report(err);
		}
	}

	/**
	 * The socket is up again: contacts may have changed while this device was offline (the
	 * first connect loads them itself). Resolves once reloaded; false when there was nothing to do.
	 */
	async reconnected(): Promise<boolean> {
		if (this.store.state.phase !== "ready") return false;
		await this.refresh();
		return true;
	}

	/** The relay's contact list, with what events changed while it loaded. */
	load(): Promise<Contact[]> {
		return this.loads.load(() => this.client.contacts());
	}

	/** A `contact` event: the contact changed on the relay (from another device, or the other side). */
	changed(event: string, contact: Contact): void {
		if (event === "deleted") {
			// The account is gone with its keys: no conversation with it can go on.
			this.store.update({ contacts: this.store.state.contacts.filter((c) => c.accountId !== contact.accountId) });
			this.notices.notify(`@${contact.handle} deleted their account.`, "info");
			return;
		}
		// Nothing of a blocked contact's is ever told, so a change from blocked is this user's
		// own unblock: its event names the state the contact is back in, not news from them.
		const unblocked = this.find(contact.accountId)?.state === "blocked" && contact.state !== "blocked";
		this.put(contact);
		const news = unblocked ? null : contactNotice(event, contact);
		if (news) this.notices.notify(news, "info");
	}

	/**
	 * The safety number with a contact (null: with all of them) changed: their account has a
	 * new identity key. Devices coming and going no longer change it, so this is worth a look.
	 */
	safetyNumberChanged(peerId: string | null): void {
		const who = peerId === null ? "all your contacts" : `@${this.find(peerId)?.handle ?? "a contact"}`;
		this.notices.notify(
			`The safety number with ${who} changed: their account has a new identity key. Compare it again before you trust it.`,
		);
	}

	private put(contact: Contact): void {
		this.loads.changed(contact);
		this.store.update({ contacts: withContact(this.store.state.contacts, contact) });
	}
}
