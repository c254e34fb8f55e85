import type { Contact } from "../../common/protocol/wire.ts";

/**
 * The contact list after a snapshot from the relay, given the contacts that `contact` events
 * changed while the snapshot was on its way. The snapshot may have been taken before such an
 * event (a request that arrives while the list loads), so replacing the list with it would
 * drop the request until the next reload. Per contact the newer `updatedAt` wins; on a tie
 * the event does, since it was pushed after the snapshot request left.
 */
export function mergeContacts(snapshot: readonly Contact[], changedMeanwhile: Iterable<Contact>): Contact[] {
	const merged = new Map(snapshot.map((c) => [c.accountId, c]));
	for (const event of changedMeanwhile) {
		const listed = merged.get(event.accountId);
		if (!listed || event.updatedAt >= listed.updatedAt) merged.set(event.accountId, event);
	}
	return [...merged.values()];
}
