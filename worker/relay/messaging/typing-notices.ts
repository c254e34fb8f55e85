import type { AccountState } from "../account/account-state.ts";
import { getContact } from "../contacts/contact-book.ts";
import type { RelayHost } from "../host.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import { type SocketState, writeSocketState } from "../sockets/socket-state.ts";

interface Needs {
	readonly account: AccountState;
	readonly hub: SocketHub;
}

/** "Is typing", live only: at most one per socket and second, dropped silently where not allowed. */
export class TypingNotices {
	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	async fromSocket(ws: WebSocket, state: SocketState, to: string): Promise<void> {
		const now = this.host.now();
		if (now - (state.typingAt ?? 0) < 1000 || this.s.account.suspensionRefusal()) return;
		const contact = getContact(this.host.sql, to);
		if (contact?.state !== "accepted" || contact.peerBlocked) return;
		state.typingAt = now;
		writeSocketState(ws, state);
		await this.host.peer(to).typing(state.accountId, state.deviceId);
	}

	fromPeer(from: string, fromDevice: string): void {
		const contact = getContact(this.host.sql, from);
		if (contact?.state === "accepted") this.s.hub.broadcast({ type: "typing", from, fromDevice });
	}
}
