/**
 * Stubs of other accounts' objects, kept for reuse. Making one (`idFromName` hashes the name,
 * `get` builds the stub) was about 5% of the relay's CPU per message in the benchmark's
 * profile, paid for every delivery and every receipt; a kept stub also delivers its calls in
 * the order they were made (the runtime's E-order, which holds per stub only).
 *
 * The runtime's rule for stubs: once a call through one throws, every later call through it
 * throws as well, and a new stub must be made. So a call that fails forgets the stub it went
 * through, and the next call makes a fresh one. At most `limit` are kept, the least recently
 * used going first: an account writes to its contacts, not to everyone.
 */
export class PeerStubs<Stub extends object> {
	readonly #kept = new Map<string, Stub>();

	constructor(
		private readonly make: (accountId: string) => Stub,
		private readonly limit = 256,
	) {}

	get(accountId: string): Stub {
		const kept = this.#kept.get(accountId);
		if (kept !== undefined) {
			// Most recently used goes last, so the first in the map is the one to drop.
			this.#kept.delete(accountId);
			this.#kept.set(accountId, kept);
			return kept;
		}
		const stub = forgetOnFailure(this.make(accountId), () => {
			if (this.#kept.get(accountId) === stub) this.#kept.delete(accountId);
		});
		this.#kept.set(accountId, stub);
		if (this.#kept.size > this.limit) this.#kept.delete(this.#kept.keys().next().value as string);
		return stub;
	}

	/** How many are kept: for tests. */
	get size(): number {
		return this.#kept.size;
	}
}

/**
 * The stub, with every method call that throws or rejects calling `forget` first. Only calls
 * are wrapped (the RPC stub answers every property name with a callable), and `then` is left
 * alone so that the stub itself is never taken for a promise.
 */
function forgetOnFailure<Stub extends object>(stub: Stub, forget: () => void): Stub {
	const failed = (err: unknown): never => {
		forget();
		throw err;
	};
	return new Proxy(stub, {
		get(target, property) {
			const member: unknown = Reflect.get(target, property);
			if (property === "then" || typeof member !== "function") return member;
			return (...args: unknown[]): unknown => {
				let result: unknown;
				try {
					// Not `member.apply`: an RPC method answers every property name, `apply` included,
					// with a remote call of that name.
					result = Reflect.apply(member, target, args);
				} catch (err) {
					failed(err);
				}
				return result instanceof Promise || isThenable(result) ? Promise.resolve(result).catch(failed) : result;
			};
		},
	});
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
	return (
		(typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { then?: unknown }).then === "function"
	);
}
