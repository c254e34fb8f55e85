/** What each kind of ledger row paid for, as the credits panel lists it. */
const REASONS: Record<string, string> = {
	starting_balance: "Starting balance",
	text: "Text message",
	attachment: "Attachment",
	edit: "Edited a message",
	delete: "Deleted a message",
	purchase: "Bought credits",
	refund: "Purchase refunded",
};

/** Plural of each reason, for a row that sums several charges of it. */
const REASONS_MANY: Record<string, string> = {
	text: "text messages",
	attachment: "attachments",
	edit: "edits",
	delete: "deleted messages",
};

/** What a ledger row paid for: "Text message", or "12 text messages" for a row that sums a run of them. */
export function ledgerWhat(entry: { reason: string; count?: number }): string {
	if (entry.count !== undefined && entry.count > 1) return `${entry.count} ${REASONS_MANY[entry.reason] ?? entry.reason}`;
	return REASONS[entry.reason] ?? entry.reason;
}
