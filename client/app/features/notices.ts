import { isTransient, type SdkError, toSdkError } from "../../core/sdk-error.ts";
import { type ErrorContext, errorText } from "../error-text.ts";
import type { MessengerStore, Notice, Phase } from "../store.ts";

/** More would push the page's content away; the oldest gives way. */
const NOTICES_KEPT = 4;
/** News fades on its own; errors stay until dismissed. */
const INFO_SHOWN_MS = 8_000;

/** The notices once `notice` is added, or null when one with its text is shown already. */
export function withNotice(notices: readonly Notice[], notice: Notice): Notice[] | null {
	if (notices.some((n) => n.text === notice.text)) return null;
	return [...notices, notice].slice(-NOTICES_KEPT);
}

/**
 * Whether a failed background call deserves a notice: a transient failure already shows as
 * the connection state, and a pending device knows it is waiting.
 */
export function worthANotice(error: SdkError, phase: Phase): boolean {
	if (error.code === "device_pending" && phase === "pending") return false;
	return !isTransient(error);
}

/** Errors and news that are not tied to one control. */
export class Notices {
	private counter = 0;

	constructor(private readonly store: MessengerStore) {}

	notify(text: string, tone: Notice["tone"] = "error"): void {
		const notices = withNotice(this.store.state.notices, { id: this.counter + 1, tone, text });
		if (!notices) return;
		const id = ++this.counter;
		this.store.update({ notices });
		if (tone === "info") setTimeout(() => this.dismiss(id), INFO_SHOWN_MS);
	}

	dismiss(id: number): void {
		this.store.update({ notices: this.store.state.notices.filter((n) => n.id !== id) });
	}

	/** A failed background call, as a notice unless it is transient (see worthANotice). */
	report(err: unknown, context: ErrorContext = "general"): void {
		const error = toSdkError(err);
		if (worthANotice(error, this.store.state.phase)) this.notify(errorText(error, context));
	}
}
