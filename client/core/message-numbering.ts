import { type KeyStore, numbersKey } from "./key-store.ts";
import {
	carried,
	type IncomingNumbers,
	type OutgoingNumbers,
	observeNumber,
	refusedNumber,
	type SealedNumbering,
	takeNumber,
} from "./message-numbers.ts";

/** What one incoming message shows, and the state to keep once the app has kept the message. */
export interface NumberingPlan {
	missingBefore: number;
	/** Ids of messages (of the same sender) whose gaps are filled now. */
	filled: string[];
	commit(): Promise<void>;
}

/**
 * The SDK's side of message numbers (message-numbers.ts), kept in the KeyStore so that they
 * survive a reload: a device that started again from 1 would look, to its contacts, like one
 * whose earlier messages all went missing.
 */
export class MessageNumbering {
	private chain: Promise<unknown> = Promise.resolve();

	constructor(private readonly store: KeyStore) {}

	/** One read-modify-write at a time, so that two sends at once never take the same number. */
	private serial<T>(work: () => Promise<T>): Promise<T> {
		const next = this.chain.then(work, work);
		this.chain = next.catch(() => undefined);
		return next;
	}

	private async outgoing(peerId: string): Promise<OutgoingNumbers | undefined> {
		return (await this.store.getNumbers(numbersKey.outgoing(peerId))) as OutgoingNumbers | undefined;
	}

	/** The number to seal into the next message to `peerId`. */
	take(peerId: string): Promise<Omit<SealedNumbering, "replaces">> {
		return this.serial(async () => {
			const { state, sealed } = takeNumber(await this.outgoing(peerId));
			await this.store.putNumbers(numbersKey.outgoing(peerId), state);
			return sealed;
		});
	}

	/** The relay accepted a message sealed with `sealed`: the refused numbers it carried are told. */
	accepted(peerId: string, sealed: Omit<SealedNumbering, "replaces">): Promise<void> {
		if (!sealed.refused?.length) return Promise.resolve();
		const told = sealed.refused;
		return this.serial(async () => {
			const state = await this.outgoing(peerId);
			if (state) await this.store.putNumbers(numbersKey.outgoing(peerId), carried(state, told));
		});
	}

	/** The send sealed with `n` failed for good: the next message says so. */
	refused(peerId: string, n: number): Promise<void> {
		return this.serial(async () => {
			const state = await this.outgoing(peerId);
			if (state) await this.store.putNumbers(numbersKey.outgoing(peerId), refusedNumber(state, n));
		});
	}

	/**
	 * A numbered message from `fromDevice` in the conversation with `peerId`, shown as `by`
	 * (its id, or for an edit the message it edits). Its own
	 * number, the refused ones it carries and, for an edit or delete, the number of the
	 * message it replaces are accounted for. Incoming messages are handled one at a time, so
	 * nothing changes the state between this and `commit`.
	 */
	async observe(
		peerId: string,
		message: { by: string; fromDevice: string; myDevice: string },
		seq: SealedNumbering,
	): Promise<NumberingPlan> {
		const { by: id, fromDevice } = message;
		const ownKey = numbersKey.incoming(peerId, fromDevice);
		// This device's own messages never come back to it: nothing of its own stream to account.
		const replaced = seq.replaces?.device === message.myDevice ? undefined : seq.replaces;
		const sameDevice = replaced?.device === fromDevice;
		const accounted = [...(seq.refused ?? []), ...(replaced && sameDevice ? [replaced.n] : [])];
		const own = observeNumber(await this.incoming(ownKey), seq.n, id, accounted);
		const writes: Array<[string, IncomingNumbers]> = [[ownKey, own.state]];
		let missingBefore = own.missingBefore;
		const filled = new Set(own.filled);
		if (replaced && !sameDevice) {
			// Another device's message, edited or deleted from this one: its number is seen now.
			const otherKey = numbersKey.incoming(peerId, replaced.device);
			const seen = observeNumber(await this.incoming(otherKey), replaced.n, id);
			missingBefore += seen.missingBefore;
			for (const f of seen.filled) filled.add(f);
			writes.push([otherKey, seen.state]);
		}
		return {
			missingBefore,
			filled: [...filled].filter((f) => f !== id),
			commit: async () => {
				for (const [key, state] of writes) await this.store.putNumbers(key, state);
			},
		};
	}

	private async incoming(key: string): Promise<IncomingNumbers | undefined> {
		return (await this.store.getNumbers(key)) as IncomingNumbers | undefined;
	}
}
