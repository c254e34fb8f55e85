import type { StorageAccessResult } from "./storage-access.ts";

/**
 * Where the widget without storage stands: `not asked` (the browser can be asked), `asking`
 * (waiting for its answer or the visitor's), or why the chat opens in a window instead.
 */
export type StorageAsk = "not asked" | "asking" | Exclude<StorageAccessResult<unknown>["outcome"], "granted">;

/** The sentence the widget shows above its buttons. */
export function storageAskText(ask: StorageAsk): string {
	switch (ask) {
		case "not asked":
			return "This browser does not let chats embedded in other sites keep their keys unless you allow it. Allow it to chat here, or open the chat in a window of its own.";
		case "asking":
			return "Waiting for the browser's answer…";
		case "refused":
			return "The browser did not allow this chat to keep its keys here, so it opens in a window of its own instead.";
		case "unusable":
			return "The browser allowed it, but still keeps this chat's storage closed here, so it opens in a window of its own instead.";
		case "unsupported":
			return "This browser does not let chats embedded in other sites keep their keys. The chat opens in a window of its own instead.";
	}
}
