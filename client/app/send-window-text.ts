import { formatWhen } from "./format.ts";
import type { MessengerState } from "./store.ts";

/**
 * The daily quota is used up: messages may still be written, and wait (each shows when it
 * goes) until the first of the day's sends ages out, at the time the relay said. Null while
 * the quota has room (or there is none).
 */
export function quotaNotice(state: Pick<MessengerState, "account" | "nextSendAt">, now: number): string | null {
	if (state.account?.quotaLeft !== 0) return null;
	const at = state.nextSendAt;
	const when = at !== null && at > now ? formatWhen(at, now) : "as the day's first messages age";
	return `You have used today's message allowance. What you write now waits and sends ${when}.`;
}
