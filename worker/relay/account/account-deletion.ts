import { deleteAccountRows } from "../../db/accounts.ts";
import { listContacts } from "../contacts/contact-book.ts";
import type { RelayHost } from "../host.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { AccountState } from "./account-state.ts";

interface Needs {
	readonly account: AccountState;
}

/** R2 lists at most this many keys a page. */
const R2_PAGE = 1000;

/**
 * An owner deletes the account: everything the relay holds of it goes, in an order that a
 * retry can finish if a step fails (each step is idempotent, and D1's rows, which make the
 * account exist, go last but one). First every contact's object forgets it (the contact, its
 * keys, what it had not delivered yet) and tells its devices; then the account's blobs in R2;
 * then its D1 rows in one batch. The object's own storage is erased by the Durable Object
 * shell afterwards (UserRelay.deleteAccount), which also closes every socket.
 */
export class AccountDeletion {
	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	async delete(handle: string): Promise<RelayResult<true>> {
		const account = this.s.account.cached();
		// A typed confirmation: a stolen session token alone should not erase an account by one click.
		if (handle !== account.handle) return refuse("bad_request", "Type the account's handle to confirm: it does not match.");
		const { accountId } = this.host;
		for (const contact of listContacts(this.host.sql)) await this.host.peer(contact.accountId).theirAccountDeleted(accountId);
		await this.deleteBlobs(`${accountId}/`);
		await deleteAccountRows(this.host.db, accountId);
		return ok(true);
	}

	/** Every blob the account uploaded (keys `owner/attachmentId`), sent or not. */
	private async deleteBlobs(prefix: string): Promise<void> {
		let cursor: string | undefined;
		do {
			const page = await this.host.blobs.list({ prefix, limit: R2_PAGE, ...(cursor !== undefined && { cursor }) });
			if (page.objects.length > 0) await this.host.blobs.delete(page.objects.map((o) => o.key));
			cursor = page.truncated ? page.cursor : undefined;
		} while (cursor !== undefined);
	}
}
