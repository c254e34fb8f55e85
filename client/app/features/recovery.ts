import type { MessengerClient } from "../../core/sdk.ts";
import type { MessengerStore, RecoveryState } from "../store.ts";
import type { Notices } from "./notices.ts";
import type { KeyValueStorage } from "./start-up-cache.ts";

export type RecoveryClient = Pick<MessengerClient, "setUpRecovery" | "hasRecoveryKey" | "checkRecoveryKey">;

/** A recovery key is 12 words; this many of them are typed back to show it was written down. */
export const WORDS_TYPED_BACK = 3;

/** The words of a recovery key, one by one (however they were spaced or cased). */
export function splitWords(words: string): string[] {
	return words.trim().toLowerCase().split(/\s+/).filter(Boolean);
}

/** `count` different positions (1-based, in order) out of `length`, to ask for. */
export function pickPositions(length: number, count = WORDS_TYPED_BACK, random: () => number = Math.random): number[] {
	const all = Array.from({ length }, (_, i) => i + 1);
	for (let i = all.length - 1; i > 0; i--) {
		const j = Math.floor(random() * (i + 1));
		[all[i], all[j]] = [all[j] as number, all[i] as number];
	}
	return all.slice(0, Math.min(count, length)).sort((a, b) => a - b);
}

/** The positions whose typed word is not the word there (case and spaces do not matter). */
export function wrongPositions(words: string, positions: readonly number[], answers: readonly string[]): number[] {
	const list = splitWords(words);
	return positions.filter((position, i) => {
		const typed = splitWords(answers[i] ?? "").join(" ");
		return typed === "" || typed !== list[position - 1];
	});
}

/** The text of the file a person saves the key in: what it is, for which account, and the words numbered. */
export function recoveryFileText(handle: string, words: string, savedAt: Date): string {
	const numbered = splitWords(words).map((word, i) => `${String(i + 1).padStart(2, " ")}. ${word}`);
	return [
		"Secure Messaging — recovery key",
		"",
		`Account: @${handle}`,
		`Made: ${savedAt.toISOString().slice(0, 10)}`,
		"",
		...numbered,
		"",
		"With these 12 words and your handle, you can sign in again on a new browser when you have no other device.",
		"Anyone who has them can do the same: keep them offline and private. A newer recovery key replaces this one.",
		"",
	].join("\n");
}

/** A reminder stays until the account has a recovery key the person saved and confirmed. */
export function needsReminder(recovery: RecoveryState): boolean {
	return !recovery.confirmed || recovery.hasKey === false;
}

/**
 * Whether the reminder shows (over the app and in the settings): not while the words are on
 * screen or being made, and not before the relay said whether there is a key, unless words
 * made here wait for their confirmation.
 */
export function reminderShown(recovery: RecoveryState): boolean {
	if (recovery.showing || recovery.making) return false;
	return recovery.words !== null || (recovery.hasKey !== null && needsReminder(recovery));
}

/**
 * Where this browser keeps, per account, that the person saved and confirmed the recovery key
 * (the SDK knows only whether the account has one). Reached inside a try each time, as
 * StartUpCache does: where a browser blocks storage, touching it throws.
 */
export class RecoveryMarks {
	constructor(
		private readonly prefix: string,
		private readonly storage: () => KeyValueStorage,
	) {}

	confirmed(accountId: string): boolean {
		try {
			return this.storage().getItem(this.key(accountId)) === "1";
		} catch {
			return false;
		}
	}

	set(accountId: string, confirmed: boolean): void {
		try {
			if (confirmed) this.storage().setItem(this.key(accountId), "1");
			else this.storage().removeItem(this.key(accountId));
		} catch {
			// Storage may be disabled: the reminder then shows again on the next start.
		}
	}

	private key(accountId: string): string {
		return `${this.prefix}:recovery-confirmed:${accountId}`;
	}
}

/**
 * The account's recovery key as the person sees it: made right after the account (and again
 * on request, which invalidates the old one), its words shown once on this page, confirmed by
 * typing three of them back, and a reminder until that is done.
 */
export class Recovery {
	private making: Promise<void> | null = null;
	/** Counts the keys made here, so that an answer of the relay from before a new key does not overwrite it. */
	private made = 0;

	constructor(
		private readonly store: MessengerStore,
		private readonly client: RecoveryClient,
		private readonly marks: RecoveryMarks,
		private readonly notices: Notices,
	) {}

	/** Ask the relay whether the account has a recovery key, and this browser whether it was confirmed. */
	async load(): Promise<void> {
		const accountId = this.store.state.me?.accountId;
		if (!accountId) return;
		const made = this.made;
		let hasKey: boolean | null = this.store.state.recovery.hasKey;
		try {
			hasKey = await this.client.hasRecoveryKey();
		} catch (err) {
			this.notices.report(err, "recovery");
		}
		// A key made meanwhile is newer news than this answer.
		if (made !== this.made || this.making) return;
		this.patch({ hasKey, confirmed: this.marks.confirmed(accountId) });
	}

	/**
	 * Make a recovery key (replacing any earlier one) and show its words. Until they are
	 * confirmed, the account counts as without a saved key here. Throws what the SDK threw.
	 */
	setUp(): Promise<void> {
		if (this.making) return this.making;
		const accountId = this.store.state.me?.accountId;
		this.made++;
		this.patch({ showing: true, words: null, making: true });
		this.making = (async () => {
			try {
				const words = await this.client.setUpRecovery();
				if (accountId) this.marks.set(accountId, false);
				this.patch({ words, hasKey: true, confirmed: false, making: false });
			} catch (err) {
				this.patch({ showing: false, making: false });
				throw err;
			} finally {
				this.making = null;
			}
		})();
		return this.making;
	}

	/** Show again the words made on this page (until they are confirmed or the page is left). */
	show(): void {
		if (this.store.state.recovery.words) this.patch({ showing: true });
	}

	/** Not now: the words stay in this page's memory, the reminder stays too. */
	later(): void {
		this.patch({ showing: false });
	}

	/**
	 * The person typed the words at `positions` back: the positions typed wrong, none when all
	 * were right (then the key counts as saved, and its words leave this page's memory).
	 */
	confirm(positions: readonly number[], answers: readonly string[]): number[] {
		const { words } = this.store.state.recovery;
		if (!words) return [...positions];
		const wrong = wrongPositions(words, positions, answers);
		if (wrong.length === 0) this.confirmed();
		return wrong;
	}

	/**
	 * On a device that did not make the key (linked later), or to look again: the words the
	 * person saved are typed in and compared with the account's registered key; if they are
	 * it, the key counts as saved in this browser. Words that are no recovery key throw `bad_request`.
	 */
	async checkSaved(words: string): Promise<boolean> {
		// Checked against the registered key, not taken on trust: a key saved "somewhere" that
		// is not this account's (an old one, another account's) would fail the day it is needed.
		const matches = await this.client.checkRecoveryKey(words);
		if (matches) this.confirmed();
		return matches;
	}

	/** The account was just restored with its recovery key: the person has it, evidently. */
	restored(accountId: string): void {
		this.made++;
		this.marks.set(accountId, true);
		this.patch({ hasKey: true, confirmed: true, words: null, showing: false });
	}

	private confirmed(): void {
		const accountId = this.store.state.me?.accountId;
		if (accountId) this.marks.set(accountId, true);
		this.patch({ confirmed: true, words: null, showing: false });
	}

	private patch(patch: Partial<RecoveryState>): void {
		this.store.update({ recovery: { ...this.store.state.recovery, ...patch } });
	}
}
