import { useEffect, useState } from "preact/hooks";
import type { MessengerController, MessengerState } from "./messenger-controller.ts";

/** A store's state (the messenger's, the call's), re-rendering the component whenever it changes. */
export function useStore<S>(store: { readonly state: S; subscribe(listener: (state: S) => void): () => void }): S {
	const [state, setState] = useState(store.state);
	useEffect(() => {
		setState(store.state);
		return store.subscribe(setState);
	}, [store]);
	return state;
}

export const useMessenger = (controller: MessengerController): MessengerState => useStore(controller);

/** The current time, ticking every second while `active` (for countdowns). */
export function useNow(active: boolean): number {
	const [now, setNow] = useState(Date.now());
	useEffect(() => {
		if (!active) return;
		setNow(Date.now());
		const timer = setInterval(() => setNow(Date.now()), 1000);
		return () => clearInterval(timer);
	}, [active]);
	return now;
}

/**
 * Run an action from a button or form: `busy` while it runs, and its failure as a readable
 * sentence in `error` (the caller renders it next to the control).
 */
export function useAction<A extends unknown[]>(
	action: (...args: A) => Promise<unknown>,
	describe: (err: unknown) => string,
): { run: (...args: A) => Promise<boolean>; busy: boolean; error: string | null; clear: () => void } {
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const run = async (...args: A): Promise<boolean> => {
		setBusy(true);
		setError(null);
		try {
			await action(...args);
			return true;
		} catch (err) {
			setError(describe(err));
			return false;
		} finally {
			setBusy(false);
		}
	};
	return { run, busy, error, clear: () => setError(null) };
}
