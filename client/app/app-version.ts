import type { KeyValueStorage } from "./features/start-up-cache.ts";

/** Where the version that last served this profile's page is kept. */
const SEEN_KEY = "sm-app-version";

/**
 * Whether the page should say the app was updated: the version serving it now differs from
 * the one that served the last load in this profile. Nothing on the first load ever, or
 * while no service worker serves the page (no version known).
 */
export function updatedSince(storage: KeyValueStorage, current: string | null): boolean {
	if (current === null) return false;
	let seen: string | null = null;
	try {
		seen = storage.getItem(SEEN_KEY);
		storage.setItem(SEEN_KEY, current);
	} catch {
		// Storage may be off: no notice, rather than one on every load.
		return false;
	}
	return seen !== null && seen !== current;
}
