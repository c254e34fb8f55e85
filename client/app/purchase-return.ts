/**
 * Stripe Checkout sends the person back to the app with `?credits=added` (paid) or
 * `?credits=cancelled` (success and cancel URLs of POST /api/credits/checkout). The app reads
 * it once, at start, and takes it out of the address bar, so a reload or a bookmark does not
 * announce the purchase again.
 */
export type PurchaseReturn = "added" | "cancelled";

const PARAM = "credits";

/** The parts of `location` and `history` used here (typed apart, so Node tests need no DOM types). */
interface AddressBar {
	readonly href: string;
}
interface SessionHistory {
	readonly state: unknown;
	replaceState(data: unknown, unused: string, url?: string | null): void;
}

export function takePurchaseReturn(location: AddressBar, history: SessionHistory): PurchaseReturn | null {
	const url = new URL(location.href);
	const value = url.searchParams.get(PARAM);
	if (value === null) return null;
	url.searchParams.delete(PARAM);
	history.replaceState(history.state, "", `${url.pathname}${url.search}${url.hash}`);
	return value === "added" || value === "cancelled" ? value : null;
}

/** Read at start-up, once per page load; the credits panel announces it once (it may mount again later). */
const page = globalThis as { location?: AddressBar; history?: SessionHistory };
let pending: PurchaseReturn | null = page.location && page.history ? takePurchaseReturn(page.location, page.history) : null;

/** Whether this page load came back from Checkout and the panel has not said so yet. */
export const backFromCheckout = (): boolean => pending !== null;

export function consumePurchaseReturn(): PurchaseReturn | null {
	const value = pending;
	pending = null;
	return value;
}
