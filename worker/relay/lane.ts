/**
 * Work that must run one item at a time, in arrival order: sends of one account (a
 * conversation keeps the order it was typed in), its call signals (an accept reaches the
 * caller before the answer sent right after it), its link claims (each must see the ones
 * before it), its device-list changes (each is checked against the list the one before
 * stored). A failed item does not stop the lane. Memory only: a restart ends every item in
 * flight anyway, so there is nothing to resume.
 */
export class Lane {
	#tail: Promise<unknown> = Promise.resolve();
	#pending = 0;

	/** Items running or waiting their turn. */
	get pending(): number {
		return this.#pending;
	}

	run<T>(work: () => Promise<T>): Promise<T> {
		this.#pending++;
		const done = () => {
			this.#pending--;
		};
		const turn = this.#tail.then(work, work);
		turn.then(done, done);
		this.#tail = turn.catch(() => undefined);
		return turn;
	}
}
