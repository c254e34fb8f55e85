export type Listener<T> = (payload: T) => void;

/** A minimal typed emitter; `Events` maps each event name to its payload type. */
export class EventEmitter<Events extends object> {
	private readonly listeners: { [E in keyof Events]?: Set<Listener<Events[E]>> } = {};

	/** Returns the function that removes this listener. */
	on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
		let set = this.listeners[event];
		if (!set) {
			set = new Set();
			this.listeners[event] = set;
		}
		set.add(listener);
		return () => {
			set.delete(listener);
		};
	}

	/** The next payload of `event` that satisfies `predicate`, or a rejection after `timeoutMs`. */
	waitFor<E extends keyof Events>(
		event: E,
		predicate: (payload: Events[E]) => boolean = () => true,
		timeoutMs = 10_000,
	): Promise<Events[E]> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				off();
				reject(new Error(`no matching "${String(event)}" event within ${timeoutMs} ms`));
			}, timeoutMs);
			const off = this.on(event, (payload) => {
				if (!predicate(payload)) return;
				clearTimeout(timer);
				off();
				resolve(payload);
			});
		});
	}

	protected emit<E extends keyof Events>(event: E, payload: Events[E]): void {
		for (const listener of [...(this.listeners[event] ?? [])]) {
			try {
				listener(payload);
			} catch (err) {
				// A broken listener must not break delivery to the others or the SDK's own state;
				// rethrown on a fresh task so it still surfaces as an uncaught error.
				setTimeout(() => {
					throw err;
				});
			}
		}
	}
}
