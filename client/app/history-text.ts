import { isFinished } from "./features/history-transfer.ts";
import { plural } from "./format.ts";
import type { HistoryTransferState, MessengerState } from "./store.ts";

/** What the empty chat of a device linked without the earlier messages says. */
export const HISTORY_MISSING_TEXT = "Earlier messages are on your other devices — this device was linked without them.";
/** What it says while they are on their way. */
export const HISTORY_COMING_TEXT = "Earlier messages are on their way from your other device…";

/** The text of an empty conversation: where the earlier messages are, on a device linked without them (or still getting them). */
export function emptyChatText(state: MessengerState): string {
	if (state.historyTransfers.some((t) => t.role === "receiving" && !isFinished(t) && t.phase !== "failed")) return HISTORY_COMING_TEXT;
	return state.historyMissing ? HISTORY_MISSING_TEXT : "No messages yet. Say hello!";
}

/** Whole percent, as the progress texts show it. */
export const percentText = (share: number | undefined): string => `${Math.floor((share ?? 0) * 100)}%`;

/** What the person reads about a transfer, on either end; `name` is the other device's, quoted. */
export function transferText(transfer: HistoryTransferState, name: string): string {
	if (transfer.role === "sending") {
		switch (transfer.phase) {
			case "preparing":
				return `Preparing history for ${name}…`;
			case "sending":
				return `Sending history to ${name}: ${percentText(transfer.share)}`;
			case "uploaded":
				return `History sent. Waiting for ${name} to import it…`;
			case "imported":
				return `${name} has your history.`;
			case "skipped":
				return `The history transfer to ${name} was skipped. ${name} starts without earlier messages.`;
			case "expired":
				return `The history transfer to ${name} expired before it was imported.`;
			case "ended":
				return `The history transfer to ${name} is over.`;
			default:
				return `Sending history to ${name} failed.`;
		}
	}
	switch (transfer.phase) {
		case "waiting":
			return `Waiting for history from ${name}…`;
		case "receiving":
			return `Receiving history: ${percentText(transfer.share)}`;
		case "importing":
			return "Importing history…";
		case "imported": {
			const { messages = 0, files = 0 } = transfer.imported ?? {};
			const what = files > 0 ? `${plural(messages, "message")} and ${plural(files, "file")}` : plural(messages, "message");
			return `Earlier messages are here: ${what} from ${name}.`;
		}
		case "skipped":
			return `The history from ${name} was skipped. Earlier messages stay on your other devices.`;
		case "expired":
			return `The history from ${name} expired before it arrived. Earlier messages stay on your other devices.`;
		case "ended":
			return `The history from ${name} did not arrive. Earlier messages stay on your other devices.`;
		default:
			return `The history from ${name} could not be imported.`;
	}
}
