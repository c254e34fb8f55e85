import type { MessengerClient } from "../../core/sdk.ts";
import type { Connection, MessengerState, MessengerStore } from "../store.ts";

/** `state`, unless the browser says there is no network. */
export function offlineOr(state: Connection, browserOffline: boolean): Connection {
	return browserOffline ? "offline" : state;
}

/**
 * What the network's return shows: "online" if the socket stayed up meanwhile, else
 * "connecting"; null where it changes nothing (not offline, or not approved yet).
 */
export function connectionWhenNetworkBack(
	{ connection, phase }: Pick<MessengerState, "connection" | "phase">,
	socketUp: boolean,
): Connection | null {
	if (connection !== "offline" || phase !== "ready") return null;
	return socketUp ? "online" : "connecting";
}

/**
 * The connection state shown at the top of the app, from the relay's socket and from the
 * browser, which knows the network is gone before a socket does (it may take a heartbeat or two).
 */
export class ConnectionStatus {
	/** Whether the relay's socket is open and ready (the browser may still say it is offline). */
	private socketUp = false;

	constructor(
		private readonly store: MessengerStore,
		private readonly client: Pick<MessengerClient, "reconnectNow">,
		private readonly browserOffline: () => boolean,
	) {}

	networkLost(): void {
		this.store.update({ connection: "offline" });
	}

	networkBack(): void {
		const connection = connectionWhenNetworkBack(this.store.state, this.socketUp);
		if (connection) this.store.update({ connection });
		// Catch up now, not when the backoff's timer (up to 30 s) fires.
		this.client.reconnectNow();
	}

	socketReady(): void {
		this.socketUp = true;
		this.store.update({ connection: "online" });
	}

	socketLost(): void {
		this.socketUp = false;
		this.store.update({ connection: offlineOr("connecting", this.browserOffline()) });
	}

	reconnecting(): void {
		this.store.update({ connection: offlineOr("connecting", this.browserOffline()) });
	}
}
