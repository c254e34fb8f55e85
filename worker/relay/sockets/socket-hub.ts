import type { AccountStatus, DeviceInfo, ServerFrame } from "../../../common/protocol/wire.ts";
import { touchDevice } from "../../db/accounts.ts";
import { approvedDeviceIds, deviceStatus } from "../devices/device-cache.ts";
import type { RelayHost } from "../host.ts";
import type { HeldMessages } from "../messaging/held-messages.ts";
import { inFlight, pageQueue, queueStats } from "../messaging/message-queue.ts";
import { takeReceipts } from "../messaging/receipt-queue.ts";
import { deleteMeta, readMeta } from "../storage/storage-schema.ts";
import { readSocketState, type SocketState, writeSocketState } from "./socket-state.ts";

/** Backlog is pushed in pages so a device with 10,000 queued messages is not flooded at once. */
const DRAIN_PAGE = 100;

/**
 * The account's open sockets, one per device: the upgrade, what a device hears first, its
 * backlog in pages, live pushes, broadcasts, and "last seen" when it goes. Everything a
 * socket needs after hibernation is in its attachment (socket-state.ts); memory holds only a
 * copy written through with it.
 */
export class SocketHub {
	constructor(
		private readonly host: RelayHost,
		private readonly views: { status(): AccountStatus; pendingDevices(): DeviceInfo[]; callRequests(): ServerFrame[] },
		private readonly held: HeldMessages,
	) {}

	/**
	 * Accept a device's connection; a new one replaces the device's old one. `promptAcks`: the
	 * device acks each message as soon as it has stored it, so messages may be held for it.
	 */
	open(deviceId: string, promptAcks = false): WebSocket {
		const { sql, sockets, accountId } = this.host;
		for (const old of sockets.of(deviceId)) {
			// What the old socket was holding is queued, so the new one finds it in its backlog.
			this.held.release(old);
			old.close(4000, "replaced by a newer connection");
		}
		const { 0: client, 1: server } = new WebSocketPair();
		sockets.accept(server, deviceId);
		const state: SocketState = { accountId, deviceId, sentUpTo: 0, synced: false, ...(promptAcks && { promptAcks }) };
		writeSocketState(server, state);
		this.send(server, { type: "ready", accountId, deviceId, queued: queueStats(sql, deviceId).count });
		if (deviceStatus(sql, deviceId) === "approved") this.greet(server);
		return client;
	}

	/** What an approved device hears first: the account, devices waiting for approval, what it missed, its backlog. */
	greet(ws: WebSocket): void {
		const state = readSocketState(ws);
		if (!state) return;
		const { sql } = this.host;
		this.send(ws, { type: "account", account: this.views.status() });
		for (const d of this.views.pendingDevices()) this.send(ws, { type: "device", event: "pending", device: d });
		// Call requests are kept until answered, so a device that was away still sees them.
		for (const frame of this.views.callRequests()) this.send(ws, frame);
		const missed = Number(readMeta(sql, `missed:${state.deviceId}`) ?? 0);
		if (missed > 0) {
			this.send(ws, { type: "missed", count: missed });
			deleteMeta(sql, `missed:${state.deviceId}`);
		}
		// Receipts that came while it was away; they need no order among the messages.
		for (const text of takeReceipts(sql, state.deviceId)) this.sendText(ws, text);
		this.pump(ws, state);
	}

	/** A device's status changed: it hears it, and a newly approved one gets what it was kept from. */
	deviceChanged(d: DeviceInfo, was: DeviceInfo["status"] | undefined, frame: ServerFrame): void {
		// The device itself is told too, now that it is no longer approved (rejected or revoked)
		// and before its socket closes, even where a proxy in between does not pass the close code on.
		for (const ws of this.host.sockets.of(d.deviceId)) {
			if (d.status === "approved") this.greet(ws);
			else if (was === "approved" || was === "pending") this.send(ws, frame);
		}
	}

	close(deviceId: string, code: number, reason: string): void {
		for (const ws of this.host.sockets.of(deviceId)) ws.close(code, reason);
	}

	send(ws: WebSocket, frame: ServerFrame): void {
		this.sendText(ws, JSON.stringify(frame));
	}

	sendText(ws: WebSocket, text: string): void {
		try {
			ws.send(text);
		} catch {
			// The socket closed under us; whatever was queued stays queued for the next connect.
		}
	}

	push(sockets: WebSocket[], frame: ServerFrame): void {
		const text = JSON.stringify(frame);
		for (const ws of sockets) this.sendText(ws, text);
	}

	/**
	 * To the account's approved devices only: a pending device may hold a socket, and anyone who
	 * knows a handle can make one, so it must not hear the account's traffic.
	 */
	broadcast(frame: ServerFrame): void {
		this.push(this.approvedSockets(), frame);
	}

	/** Open sockets of the account's approved devices (but `except`). */
	approvedSockets(except?: string): WebSocket[] {
		return approvedDeviceIds(this.host.sql)
			.filter((d) => d !== except)
			.flatMap((d) => this.host.sockets.of(d));
	}

	/** Open sockets of one device, if it is approved. */
	socketsOfApproved(deviceId: string | null): WebSocket[] {
		return deviceId !== null && deviceStatus(this.host.sql, deviceId) === "approved" ? this.host.sockets.of(deviceId) : [];
	}

	/** The highest queue number any open socket was pushed: new queue rows are numbered above it. */
	highestSentUpTo(): number {
		let highest = 0;
		for (const ws of this.host.sockets.all()) highest = Math.max(highest, readSocketState(ws)?.sentUpTo ?? 0);
		return highest;
	}

	/** New queue entries, pushed at once to sockets that have caught up. */
	pushQueued(seqs: ReadonlyMap<string, number>, text: string): void {
		for (const [deviceId, seq] of seqs) {
			for (const ws of this.host.sockets.of(deviceId)) {
				const state = readSocketState(ws);
				// A socket still draining its backlog picks this up in order from the queue.
				if (!state?.synced) continue;
				this.sendText(ws, text);
				state.sentUpTo = seq;
				writeSocketState(ws, state);
			}
		}
	}

	/**
	 * The one socket a message for this device may be held on instead of queued: caught up,
	 * acking at once and not lagging; null when the message must be queued.
	 */
	holdableSocket(deviceId: string): WebSocket | null {
		const sockets = this.host.sockets.of(deviceId);
		const ws = sockets.length === 1 ? sockets[0] : undefined;
		if (!ws) return null;
		const state = readSocketState(ws);
		return state?.synced && state.promptAcks && this.held.mayHold(ws) ? ws : null;
	}

	/**
	 * A held message was queued after all (row `seq`): the socket it was pushed to has it
	 * (it is not sent again, only counted as pushed); another socket of the device that has
	 * caught up gets it now, one still draining finds it in order.
	 */
	pushWritten(deviceId: string, seq: number, text: string, pushedTo: WebSocket): void {
		for (const ws of this.host.sockets.of(deviceId)) {
			const state = readSocketState(ws);
			if (!state) continue;
			if (ws !== pushedTo) {
				if (!state.synced) continue;
				this.sendText(ws, text);
			}
			state.sentUpTo = Math.max(state.sentUpTo, seq);
			writeSocketState(ws, state);
		}
	}

	/** A replaced entry that a socket already got (unacked) goes out again as its new version. */
	pushReplaced(deviceId: string, seq: number, text: string): void {
		for (const ws of this.host.sockets.of(deviceId)) {
			if ((readSocketState(ws)?.sentUpTo ?? 0) >= seq) this.sendText(ws, text);
		}
	}

	/** After an ack: a draining socket gets its next page once half of the last one is acked. */
	acked(ws: WebSocket, state: SocketState): void {
		if (!state.synced && inFlight(this.host.sql, state.deviceId, state.sentUpTo) <= DRAIN_PAGE / 2) this.pump(ws, state);
	}

	/** Push the next page of backlog, or announce that the device has caught up. */
	private pump(ws: WebSocket, state: SocketState): void {
		const rows = pageQueue(this.host.sql, state.deviceId, state.sentUpTo, DRAIN_PAGE);
		for (const row of rows) this.sendText(ws, row.frame);
		const last = rows.at(-1);
		if (last) state.sentUpTo = last.seq;
		if (rows.length < DRAIN_PAGE) {
			state.synced = true;
			this.send(ws, { type: "synced" });
		}
		writeSocketState(ws, state);
	}

	/** The socket went away (closed or failed): answer the close and note when the device was last seen. */
	async gone(ws: WebSocket, code: number, reason: string): Promise<void> {
		this.held.release(ws);
		try {
			ws.close(code === 1005 ? 1000 : code, reason);
		} catch {
			// Already closed from our side.
		}
		await this.markLastSeen(ws);
	}

	/**
	 * The device list's "last seen" is written on connect and again when the device goes away,
	 * so a device that stayed connected for hours is not shown as seen when it arrived. One D1
	 * write per disconnect; a failure only leaves the connect time standing.
	 */
	private async markLastSeen(ws: WebSocket): Promise<void> {
		const state = readSocketState(ws);
		if (!state || deviceStatus(this.host.sql, state.deviceId) === "revoked") return;
		await touchDevice(this.host.db, state.deviceId, this.host.now()).catch((err) => {
			console.error(JSON.stringify({ event: "last_seen_failed", name: err instanceof Error ? err.name : typeof err }));
		});
	}
}
