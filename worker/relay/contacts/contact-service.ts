import type { Contact, DeviceList, Envelope, EnvelopeUpload } from "../../../common/protocol/wire.ts";
import { isContactBurst, isLowAcceptRatio } from "../../abuse/behaviour-flags.ts";
import { reportRetryAfter } from "../../abuse/report-allowance.ts";
import type { ReporterStanding } from "../../abuse/report-weight.ts";
import { DAY_MS } from "../../abuse/send-limits.ts";
import { findAccountByHandle } from "../../db/accounts.ts";
import { bumpCounter, readCounter } from "../account/account-cache.ts";
import type { AccountState } from "../account/account-state.ts";
import { countSince, distinctRefsSince, logActivity, nthNewestTime, recentTimes } from "../account/activity-log.ts";
import type { DeviceRegistry } from "../devices/device-registry.ts";
import type { RelayHost } from "../host.ts";
import { dropQueuedFrom } from "../messaging/message-queue.ts";
import { receivedFrom } from "../messaging/received-counts.ts";
import { ok, type RelayResult, refuse } from "../relay-result.ts";
import type { SocketHub } from "../sockets/socket-hub.ts";
import {
	clearPeerBlocked,
	envelopesFor,
	forgetContact,
	getContact,
	listContacts,
	type PeerRef,
	publicContact,
	type StoredContact,
	type StoredEnvelope,
	saveBeneathBlock,
	saveContactState,
	saveEnvelopes,
	setCallsAllowed,
} from "./contact-book.ts";
import { contactFrame, unblockedFrame } from "./contact-notice.ts";
import { beneathBlock, type ContactEvent, hiddenByBlock, type TheirEvent, transition, unblock } from "./contact-rules.ts";
import type { KeyRotation } from "./key-rotation.ts";

interface Needs {
	readonly account: AccountState;
	readonly hub: SocketHub;
	readonly rotation: KeyRotation;
	readonly devices: DeviceRegistry;
}

const HOUR_MS = 3_600_000;
const NO_SUCH_CONTACT = "No such contact.";
const nothingToDo = (): RelayResult<never> => refuse("conflict", "Nothing to do.");

/**
 * The account's contacts: requests, accept (which stores the first key version), decline,
 * block and unblock, the per-contact call permission, and the same steps as the other side's
 * object reports them. Every state change goes through the state machine (contact-rules.ts)
 * and is told to the account's own devices.
 *
 * A block is this object's alone: the blocked side's object is not told, so nothing it
 * answers its devices can differ. Here the block hides the relationship without ending it
 * (contact-rules.ts hiddenByBlock): the blocked side is answered as that relationship would
 * be answered — its sends look delivered (messaging/delivery.ts drops them), it still sees
 * the devices and follows the key rotations of a contact it shares a key with — but nothing
 * it sends reaches this account's devices.
 */
export class ContactService {
	constructor(
		private readonly host: RelayHost,
		private readonly s: Needs,
	) {}

	list(): Contact[] {
		return listContacts(this.host.sql).map(publicContact);
	}

	get(peerId: string): StoredContact | undefined {
		return getContact(this.host.sql, peerId);
	}

	/**
	 * Ask the account with this handle to become a contact. The handle is looked up only after
	 * the caller passed every check, so a refused device cannot probe which handles exist.
	 */
	async request(handle: string): Promise<RelayResult<Contact>> {
		const suspended = this.s.account.suspensionRefusal();
		if (suspended) return suspended;
		const now = this.host.now();
		const perHour = this.host.config().contactRequestsPerHour;
		const recent = recentTimes(this.host.sql, "contact_request", now - HOUR_MS, perHour);
		if (recent.length >= perHour) {
			const retryAfter = (recent[perHour - 1] as number) + HOUR_MS - now;
			return refuse("rate_limited", `You can send ${perHour} contact requests an hour. Try again later.`, retryAfter);
		}
		const found = await findAccountByHandle(this.host.db, handle);
		if (!found) return refuse("not_found", `Nobody is called ${handle}.`);
		if (found.id === this.host.accountId) return refuse("bad_request", "You cannot add yourself as a contact.");
		const result = this.apply({ id: found.id, handle: found.handle }, "request");
		if (result === "ignored" || !result.ok) return result === "ignored" ? nothingToDo() : result;
		logActivity(this.host.sql, "contact_request", now, found.id);
		const requested = bumpCounter(this.host.sql, "requests_sent");
		await this.host.peer(found.id).theirRequest({ id: this.host.accountId, handle: this.s.account.cached().handle });
		this.s.hub.broadcast(contactFrame("requested", result.value));
		await this.flagRequestPatterns(now, requested);
		return result;
	}

	private async flagRequestPatterns(now: number, requested: number): Promise<void> {
		const flagRules = this.host.config().flags;
		if (isContactBurst(distinctRefsSince(this.host.sql, "contact_request", now - flagRules.burstWindowMs), flagRules)) {
			await this.s.account.raiseFlag("contact_burst", "contact requests to many distinct accounts within an hour");
		}
		const accepted = readCounter(this.host.sql, "requests_accepted");
		if (isLowAcceptRatio(requested, accepted, flagRules)) {
			await this.s.account.raiseFlag("low_accept_ratio", `${accepted} of ${requested} contact requests accepted`);
		}
	}

	/** Accept a request with the first contact key, wrapped for every approved device of both accounts. */
	async accept(
		deviceId: string,
		me: PeerRef,
		peerId: string,
		keyVersion: number,
		uploads: EnvelopeUpload[],
	): Promise<RelayResult<Contact>> {
		const current = getContact(this.host.sql, peerId);
		if (current?.state !== "incoming") return refuse("not_found", "There is no contact request from this account to accept.");
		if (keyVersion !== 1) return refuse("bad_request", "A new contact starts at key version 1.");
		const halves = await this.s.rotation.prepare(deviceId, peerId, keyVersion, uploads);
		if (!halves.ok) return halves;
		// The peer stores its half first: if that fails, nothing changed here either.
		await this.host.peer(peerId).theirAccept(me, keyVersion, halves.value.theirs);
		saveEnvelopes(this.host.sql, peerId, halves.value.mine);
		const peer = { id: peerId, handle: current.handle };
		const accepted = publicContact(saveContactState(this.host.sql, peer, "accepted", this.host.now(), keyVersion));
		this.s.hub.broadcast(contactFrame("accepted", accepted));
		return ok(accepted);
	}

	async decline(peerId: string): Promise<RelayResult<Contact>> {
		const current = getContact(this.host.sql, peerId);
		if (!current) return refuse("not_found", "There is no contact request from this account to decline.");
		const result = this.apply({ id: peerId, handle: current.handle }, "decline");
		if (result === "ignored" || !result.ok) return result === "ignored" ? nothingToDo() : result;
		await this.host.peer(peerId).theirDecline(this.host.accountId);
		this.s.hub.broadcast(contactFrame("declined", result.value));
		return result;
	}

	async block(peer: PeerRef): Promise<RelayResult<Contact>> {
		if (peer.id === this.host.accountId) return refuse("bad_request", "You cannot block yourself.");
		const current = getContact(this.host.sql, peer.id);
		const step = transition(current?.state, "block");
		if (!("next" in step)) return "refuse" in step ? refuse(step.refuse, step.why) : nothingToDo();
		const beneath = hiddenByBlock(current?.state, current?.beneath);
		const blocked = publicContact(saveContactState(this.host.sql, peer, step.next, this.host.now(), undefined, beneath));
		this.s.hub.broadcast(contactFrame("blocked", blocked));
		return ok(blocked);
	}

	/**
	 * Lift a block: the contact is again what the block hid, as the peer's own steps left it
	 * (an accepted contact comes back accepted, under the key it has now). What they sent
	 * meanwhile was dropped when it came and stays gone. Told to this account's devices only:
	 * the other side never knew.
	 */
	async unblock(peerId: string): Promise<RelayResult<Contact>> {
		const current = getContact(this.host.sql, peerId);
		const step = unblock(current?.state, current?.beneath);
		if (!("next" in step) || !current) return "refuse" in step ? refuse(step.refuse, step.why) : nothingToDo();
		// A block from before blocks were silent told their object, which refuses some of their
		// steps there: undone first (for a newer block there is nothing to undo).
		await this.host.peer(peerId).theirUnblock(this.host.accountId);
		const peer = { id: peerId, handle: current.handle };
		const contact = publicContact(saveContactState(this.host.sql, peer, step.next, this.host.now()));
		this.s.hub.broadcast(unblockedFrame(contact));
		return ok(contact);
	}

	keys(deviceId: string, peerId: string): RelayResult<Envelope[]> {
		if (!getContact(this.host.sql, peerId)) return refuse("not_found", "No such contact.");
		return ok(envelopesFor(this.host.sql, peerId, deviceId));
	}

	/** The contact's approved devices and its signed list, which this account's devices verify before wrapping a key for any of them. */
	async peerDevices(peerId: string): Promise<RelayResult<DeviceList>> {
		const current = getContact(this.host.sql, peerId);
		if (!current || current.state === "blocked") return refuse("not_found", NO_SUCH_CONTACT);
		return this.host.peer(peerId).deviceListOf(this.host.accountId);
	}

	/**
	 * This account's devices (names, keys, creation times) and signed list, as `askedBy` may
	 * see them: only an accepted contact, and one this account asked to be its contact (who
	 * wraps the first key for these devices when accepting). Anyone else — a stranger, a
	 * requester not yet accepted or declined — learns nothing, not even whether there is a
	 * contact. Someone blocked is answered as the relationship the block hides would be: a
	 * contact who could fetch the list before the block still can (it needs it to verify
	 * and rotate the key), or the block would show.
	 */
	devicesFor(askedBy: string): RelayResult<DeviceList> {
		const contact = getContact(this.host.sql, askedBy);
		const seen = contact?.state === "blocked" ? contact.beneath : contact?.state;
		if (seen !== "accepted" && seen !== "outgoing") return refuse("not_found", NO_SUCH_CONTACT);
		return ok(this.s.devices.published());
	}

	/**
	 * A report this account files: only against someone it has a contact relationship with,
	 * at most REPORTS_PER_DAY in any rolling 24 h (each one, repeats too, takes a slot: the
	 * limit is on writes an admin may have to read). Says what this object knows for weighing
	 * it (abuse/report-weight.ts): its side of the contact and the messages received from them.
	 */
	noteReport(peerId: string): RelayResult<ReporterStanding> {
		const contact = getContact(this.host.sql, peerId);
		if (!contact) return refuse("not_found", "You can only report your contacts or people who asked to be.");
		const now = this.host.now();
		const perDay = this.host.config().reportsPerDay;
		const { sql } = this.host;
		const retryAfter = reportRetryAfter(countSince(sql, "report", now - DAY_MS), nthNewestTime(sql, "report", perDay), now, perDay);
		if (retryAfter !== null) return refuse("rate_limited", `You can file ${perDay} reports a day. Try again later.`, retryAfter);
		logActivity(sql, "report", now, peerId);
		return ok({ contactState: contact.state, messagesReceived: receivedFrom(sql, peerId) });
	}

	/** Whether this account takes calls from a contact (off until allowed); its other devices are told. */
	setCallPermission(peerId: string, allow: boolean): RelayResult<Contact> {
		if (!setCallsAllowed(this.host.sql, peerId, allow, this.host.now()))
			return refuse("not_found", "Calls can only be allowed from accepted contacts.");
		const contact = publicContact(getContact(this.host.sql, peerId) as StoredContact);
		this.s.hub.broadcast(contactFrame("calls_changed", contact));
		return ok(contact);
	}

	// The same steps, as the other side's object reports them.

	theirRequest(from: PeerRef): void {
		const result = this.applyTheirs(from, "their_request");
		if (typeof result === "object" && result.ok) this.s.hub.broadcast(contactFrame("requested", result.value));
	}

	theirAccept(from: PeerRef, keyVersion: number, envelopes: StoredEnvelope[]): void {
		const result = this.applyTheirs(from, "their_accept", keyVersion);
		if (result === "ignored" || (result !== "hidden" && !result.ok)) return;
		// Beneath a block too: the key is what an unblock needs, and the blocked side already uses it.
		saveEnvelopes(this.host.sql, from.id, envelopes);
		bumpCounter(this.host.sql, "requests_accepted");
		if (result !== "hidden") this.s.hub.broadcast(contactFrame("accepted", result.value));
	}

	theirDecline(fromId: string): void {
		const current = getContact(this.host.sql, fromId);
		if (!current) return;
		const result = this.applyTheirs({ id: fromId, handle: current.handle }, "their_decline");
		if (typeof result === "object" && result.ok) this.s.hub.broadcast(contactFrame("declined", result.value));
	}

	/**
	 * The peer deleted its account: it is no longer a contact, nothing it had not delivered
	 * yet will be, and this account's devices are told (`deleted`, with the contact as it was).
	 */
	theirAccountDeleted(fromId: string): void {
		const current = getContact(this.host.sql, fromId);
		if (!current) return;
		forgetContact(this.host.sql, fromId);
		dropQueuedFrom(this.host.sql, fromId);
		this.s.hub.broadcast(contactFrame("deleted", publicContact(current)));
	}

	/** The peer lifted a block from before blocks were silent, which had told this object. */
	theirUnblock(fromId: string): void {
		clearPeerBlocked(this.host.sql, fromId);
	}

	/**
	 * A step of the peer's. "hidden": it moved the relationship beneath a block of ours,
	 * which is stored and shown to nobody.
	 */
	private applyTheirs(peer: PeerRef, event: TheirEvent, keyVersion?: number): RelayResult<Contact> | "ignored" | "hidden" {
		const current = getContact(this.host.sql, peer.id);
		if (current?.state !== "blocked" || current.beneath === undefined) return this.apply(peer, event, keyVersion);
		const beneath = beneathBlock(current.beneath, event);
		if (beneath === current.beneath) return "ignored";
		saveBeneathBlock(this.host.sql, peer.id, beneath, keyVersion);
		return "hidden";
	}

	private apply(peer: PeerRef, event: ContactEvent, keyVersion?: number): RelayResult<Contact> | "ignored" {
		const step = transition(getContact(this.host.sql, peer.id)?.state, event);
		if ("refuse" in step) return refuse(step.refuse, step.why);
		if ("ignore" in step) return "ignored";
		return ok(publicContact(saveContactState(this.host.sql, peer, step.next, this.host.now(), keyVersion)));
	}
}
