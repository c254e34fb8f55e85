/**
 * Message numbers: each sending device numbers what it sends to one conversation 1, 2, 3…
 * and seals the number into the message's header, so a receiver notices when one never came
 * (the relay dropped or held it back) and says "a message may be missing" there, as Signal
 * and Wire do. Pure logic here; the SDK keeps the state in its KeyStore.
 *
 * What is numbered: every sealed message of a conversation (text, attachment, edit, delete),
 * not receipts or call signals. Numbers that do not reach the receiver for a good reason are
 * accounted for by what does reach it:
 * - a send the relay refused (rate limit, quota, credits) used a number that nothing carries:
 *   the device's next message lists it under `refused`;
 * - the relay replaces a queued original by its edit, or drops it for its delete: the edit or
 *   delete names the original's number under `replaces`.
 * What cannot be checked: the first message a device receives from another device sets where
 * that device's numbers start for it (a device linked later never saw the earlier ones), and
 * a relay that holds back a device's latest message is noticed only when the next one comes.
 */

/** One message's place among its sending device's messages to one conversation. */
export interface MessageNumber {
	device: string;
	n: number;
}

/** Sealed into a message's header (`seq`). */
export interface SealedNumbering {
	n: number;
	/** Numbers this device used for sends the relay refused: they carry nothing, nothing is missing. */
	refused?: number[];
	/** For an edit or a delete: the number of the message it replaces, which may never come. */
	replaces?: MessageNumber;
}

/** The most numbers a device carries as refused, and a receiver keeps as missing, per stream. */
export const NUMBERS_KEPT = 200;
export const MAX_NUMBER = Number.MAX_SAFE_INTEGER;

/** A sending device's numbers for one conversation. */
export interface OutgoingNumbers {
	/** The last number used. */
	high: number;
	/** Used by refused sends and not yet carried by a message the relay accepted. */
	refused: number[];
}

/** What a receiving device knows of one sending device's numbers in one conversation. */
export interface IncomingNumbers {
	high: number;
	/** Numbers not seen yet, each with the id of the message whose arrival showed it missing. */
	missing: Array<{ n: number; by: string }>;
}

/** The next number to seal, and the refused ones it carries. */
export function takeNumber(state: OutgoingNumbers | undefined): { state: OutgoingNumbers; sealed: Omit<SealedNumbering, "replaces"> } {
	const high = (state?.high ?? 0) + 1;
	const refused = state?.refused ?? [];
	return { state: { high, refused }, sealed: { n: high, ...(refused.length > 0 && { refused: [...refused] }) } };
}

/** The relay accepted a message that carried `carried`: those need not be carried again. */
export function carried(state: OutgoingNumbers, carriedRefused: readonly number[]): OutgoingNumbers {
	if (carriedRefused.length === 0) return state;
	return { ...state, refused: state.refused.filter((n) => !carriedRefused.includes(n)) };
}

/** The relay refused the send sealed with `n` for good: the next message carries it. */
export function refusedNumber(state: OutgoingNumbers, n: number): OutgoingNumbers {
	if (state.refused.includes(n)) return state;
	return { ...state, refused: [...state.refused, n].slice(-NUMBERS_KEPT) };
}

export interface Observed {
	state: IncomingNumbers;
	/** How many messages may be missing just before this one (newly noticed by it). */
	missingBefore: number;
	/** Messages whose noticed gaps are all filled now. */
	filled: string[];
}

/**
 * One message of a stream arrived (or an edit or delete accounted for its number): `n`, sealed
 * by the stream's device, with the numbers it says were refused. `by` is the message's id.
 */
export function observeNumber(state: IncomingNumbers | undefined, n: number, by: string, accountedFor: readonly number[] = []): Observed {
	// The first message from a device: where its numbers start for this one.
	if (!state) return { state: { high: n, missing: [] }, missingBefore: 0, filled: [] };
	const accounted = new Set([n, ...accountedFor]);
	const fresh: IncomingNumbers["missing"] = [];
	let missingBefore = 0;
	if (n > state.high) {
		// A contact's device can seal any number: only the newest of a huge gap are listed.
		for (let k = Math.max(state.high + 1, n - NUMBERS_KEPT); k < n; k++) if (!accounted.has(k)) fresh.push({ n: k, by });
		missingBefore = fresh.length + Math.max(0, n - state.high - 1 - NUMBERS_KEPT);
	}
	const kept = state.missing.filter((m) => !accounted.has(m.n));
	const still = new Set(kept.map((m) => m.by));
	const filled = [...new Set(state.missing.map((m) => m.by))].filter((id) => !still.has(id));
	// Past the cap the oldest are forgotten: their marks stay, since nothing filled them.
	const missing = [...kept, ...fresh].slice(-NUMBERS_KEPT);
	return { state: { high: Math.max(state.high, n), missing }, missingBefore, filled };
}
