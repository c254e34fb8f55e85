import {
	type AcceptRequest,
	type AccountStatus,
	type ApproveDeviceRequest,
	accountStatus,
	type ChallengeResponse,
	type CheckoutResponse,
	type ClaimLinkRequest,
	type ClaimLinkResponse,
	type CompleteRecoveryRequest,
	type Contact,
	type CreditHistory,
	type CreditPacksResponse,
	challengeResponse,
	checkoutResponse,
	claimLinkResponse,
	contactList,
	contactResponse,
	creditHistory,
	creditPacksResponse,
	type DeviceInfo,
	type DeviceList,
	deviceList,
	deviceResponse,
	type EndHistoryRequest,
	type Envelope,
	envelopeList,
	errorBody,
	type HistoryTransfer,
	historyTransferList,
	type IdentityEnvelope,
	id,
	identityEnvelope,
	type LimitsResponse,
	limitsResponse,
	type OpenLinkResponse,
	openLinkResponse,
	type PublishDeviceListRequest,
	type PushKeyResponse,
	type PushSubscriptionRequest,
	parseJson,
	pushKeyResponse,
	type RecoverRequest,
	type RecoverResponse,
	type RecoveryKeyRequest,
	type RegisterRequest,
	type RegisterResponse,
	type ReserveAttachmentRequest,
	type ReserveAttachmentResponse,
	type RevokeDeviceRequest,
	type RotateRequest,
	recoverResponse,
	recoveryKeyResponse,
	registerResponse,
	reserveAttachmentResponse,
	type Schema,
	type SealedBackup,
	type SessionRequest,
	type SessionResponse,
	sealedBackup,
	sessionResponse,
	type TurnResponse,
	turnResponse,
	ValidationError,
} from "../../common/protocol/wire.ts";
import { SdkError, type SdkErrorCode } from "./sdk-error.ts";

export type Fetch = typeof fetch;

/** A status the relay answered without its JSON error body (a proxy, or a wrong base URL). */
function codeForStatus(status: number): SdkErrorCode {
	if (status >= 500) return "network";
	if (status === 401) return "unauthorized";
	if (status === 404) return "not_found";
	if (status === 413) return "too_large";
	if (status === 429) return "rate_limited";
	return "bad_request";
}

/** Check an argument against its wire schema before it goes anywhere. */
export function parseInput<T>(schema: Schema<T>, value: unknown, what: string): T {
	try {
		return schema.parse(value, what);
	} catch (err) {
		if (err instanceof ValidationError) throw new SdkError("bad_request", err.message);
		throw err;
	}
}

/** An account id is put into a URL path, so it must be an id and nothing else. */
export const parseAccountId = (value: string): string => parseInput(id, value, "peerId");

/** The relay's HTTP routes (common/protocol/PROTOCOL.md). Every answer is validated against its wire schema before it is returned. */
export class ApiClient {
	constructor(
		private readonly baseUrl: string,
		private readonly fetchFn: Fetch,
	) {}

	register(body: RegisterRequest): Promise<RegisterResponse> {
		return this.call("POST", "/api/accounts", registerResponse, { body });
	}

	challenge(): Promise<ChallengeResponse> {
		return this.call("POST", "/api/auth/challenge", challengeResponse, { body: {} });
	}

	session(body: SessionRequest): Promise<SessionResponse> {
		return this.call("POST", "/api/auth/session", sessionResponse, { body });
	}

	account(token: string): Promise<AccountStatus> {
		return this.call("GET", "/api/account", accountStatus, { token });
	}

	/** Every device of this account, with the account's signed device list (to verify before trusting any of it). */
	devices(token: string): Promise<DeviceList> {
		return this.call("GET", "/api/devices", deviceList, { token });
	}

	async contacts(token: string): Promise<Contact[]> {
		return (await this.call("GET", "/api/contacts", contactList, { token })).contacts;
	}

	async requestContact(token: string, handle: string): Promise<Contact> {
		return (await this.call("POST", "/api/contacts", contactResponse, { token, body: { handle } })).contact;
	}

	async acceptContact(token: string, peerId: string, body: AcceptRequest): Promise<Contact> {
		return (await this.call("POST", `${this.contactPath(peerId)}/accept`, contactResponse, { token, body })).contact;
	}

	async declineContact(token: string, peerId: string): Promise<Contact> {
		return (await this.call("POST", `${this.contactPath(peerId)}/decline`, contactResponse, { token })).contact;
	}

	async blockContact(token: string, peerId: string): Promise<Contact> {
		return (await this.call("POST", `${this.contactPath(peerId)}/block`, contactResponse, { token })).contact;
	}

	/** Delete the account for good; `handle` is its own handle, typed again. */
	async deleteAccount(token: string, handle: string): Promise<void> {
		await this.call("DELETE", "/api/account", null, { token, body: { handle } });
	}

	async unblockContact(token: string, peerId: string): Promise<Contact> {
		return (await this.call("POST", `${this.contactPath(peerId)}/unblock`, contactResponse, { token })).contact;
	}

	/** The account's first signed device list, or a new identity key (an identity reset). */
	async publishDeviceList(token: string, body: PublishDeviceListRequest): Promise<void> {
		await this.call("POST", "/api/devices/list", null, { token, body });
	}

	/** Register (or replace) the account's recovery public key, signed by the identity key. */
	async putRecoveryKey(token: string, body: RecoveryKeyRequest): Promise<void> {
		await this.call("PUT", "/api/account/recovery", null, { token, body });
	}

	recoveryKey(token: string): Promise<RecoveryKeyRequest> {
		return this.call("GET", "/api/account/recovery", recoveryKeyResponse, { token });
	}

	/** The sealed key backup as stored (its version says what the next one must be). */
	backup(token: string): Promise<SealedBackup> {
		return this.call("GET", "/api/account/backup", sealedBackup, { token });
	}

	async putBackup(token: string, body: SealedBackup): Promise<void> {
		await this.call("PUT", "/api/account/backup", null, { token, body });
	}

	/** A new device restores the account with the recovery key: it is pending, with the sealed backup to open. */
	recover(body: RecoverRequest): Promise<RecoverResponse> {
		return this.call("POST", "/api/recovery", recoverResponse, { body });
	}

	async completeRecovery(token: string, deviceId: string, body: CompleteRecoveryRequest): Promise<DeviceInfo> {
		return (await this.call("POST", `/api/devices/${parseInput(id, deviceId, "deviceId")}/recover`, deviceResponse, { token, body }))
			.device;
	}

	/** Open a one-time link code on the relay by its link id (the code's secret stays here). */
	openLink(token: string, linkId: string): Promise<OpenLinkResponse> {
		return this.call("POST", "/api/devices/links", openLinkResponse, { token, body: { linkId } });
	}

	async cancelLink(token: string, linkId: string): Promise<void> {
		await this.call("DELETE", `/api/devices/links/${parseInput(id, linkId, "linkId")}`, null, { token });
	}

	/** A new device claims a link code; it is pending until the device that showed the code approves it. */
	claimLink(body: ClaimLinkRequest): Promise<ClaimLinkResponse> {
		return this.call("POST", "/api/devices/link", claimLinkResponse, { body });
	}

	/** The identity key as the approving device wrapped it for this one. */
	identityEnvelope(token: string): Promise<IdentityEnvelope> {
		return this.call("GET", "/api/devices/identity", identityEnvelope, { token });
	}

	async approveDevice(token: string, deviceId: string, body: ApproveDeviceRequest): Promise<DeviceInfo> {
		return (await this.call("POST", `/api/devices/${parseInput(id, deviceId, "deviceId")}/approve`, deviceResponse, { token, body }))
			.device;
	}

	/** Rejects a pending device or revokes an approved one (with the next signed list, without it). */
	async revokeDevice(token: string, deviceId: string, body: RevokeDeviceRequest = {}): Promise<DeviceInfo> {
		return (await this.call("POST", `/api/devices/${parseInput(id, deviceId, "deviceId")}/revoke`, deviceResponse, { token, body })).device;
	}

	async rotateContactKey(token: string, peerId: string, body: RotateRequest): Promise<Contact> {
		return (await this.call("POST", `${this.contactPath(peerId)}/rotate`, contactResponse, { token, body })).contact;
	}

	async report(token: string, peerId: string, body: { reason: string; block?: boolean }): Promise<void> {
		await this.call("POST", `${this.contactPath(peerId)}/report`, null, { token, body });
	}

	reserveAttachment(token: string, body: ReserveAttachmentRequest): Promise<ReserveAttachmentResponse> {
		return this.call("POST", "/api/attachments", reserveAttachmentResponse, { token, body });
	}

	/** Give up a reservation not yet sent: its price is released at once, any uploaded blob deleted. */
	async cancelAttachment(token: string, owner: string, attachmentId: string): Promise<void> {
		const path = `/api/attachments/${parseAccountId(owner)}/${parseInput(id, attachmentId, "attachmentId")}`;
		await this.call("DELETE", path, null, { token });
	}

	/** Where a blob is uploaded to and downloaded from. */
	attachmentUrl(owner: string, attachmentId: string): string {
		return `${this.baseUrl}/api/attachments/${parseAccountId(owner)}/${parseInput(id, attachmentId, "attachmentId")}`;
	}

	/** The sealed blob as a stream (the caller opens it). */
	downloadAttachment(token: string, owner: string, attachmentId: string): Promise<ReadableStream<Uint8Array>> {
		return this.download(token, this.attachmentUrl(owner, attachmentId), "the attachment");
	}

	/** The live history transfers this device sends or receives. */
	async historyTransfers(token: string): Promise<HistoryTransfer[]> {
		return (await this.call("GET", "/api/devices/history", historyTransferList, { token })).transfers;
	}

	historyArchiveUrl(transferId: string): string {
		return `${this.baseUrl}/api/devices/history/${parseInput(id, transferId, "transferId")}`;
	}

	/** The sealed history archive as a stream (the new device opens it). */
	downloadHistory(token: string, transferId: string): Promise<ReadableStream<Uint8Array>> {
		return this.download(token, `${this.historyArchiveUrl(transferId)}/archive`, "the history");
	}

	async endHistory(token: string, transferId: string, outcome: EndHistoryRequest["outcome"]): Promise<void> {
		await this.call("POST", `/api/devices/history/${parseInput(id, transferId, "transferId")}/end`, null, { token, body: { outcome } });
	}

	private async download(token: string, url: string, what: string): Promise<ReadableStream<Uint8Array>> {
		let response: Response;
		try {
			response = await this.fetchFn(url, { headers: { authorization: `Bearer ${token}` } });
		} catch (err) {
			throw new SdkError("network", `Downloading ${what} failed: ${err instanceof Error ? err.message : String(err)}`, {
				cause: err,
			});
		}
		if (!response.ok || !response.body) {
			let body: ReturnType<typeof errorBody.parse> | null = null;
			try {
				body = parseJson(errorBody, await response.text());
			} catch {
				// Not our JSON error.
			}
			throw new SdkError(
				body?.error.code ?? codeForStatus(response.status),
				body?.error.message ?? `The download answered ${response.status}.`,
			);
		}
		return response.body as ReadableStream<Uint8Array>;
	}

	limits(): Promise<LimitsResponse> {
		return this.call("GET", "/api/limits", limitsResponse, {});
	}

	/** The relay's VAPID public key, or null: it sends no Web Push. */
	pushKey(): Promise<PushKeyResponse> {
		return this.call("GET", "/api/push/key", pushKeyResponse, {});
	}

	async putPushSubscription(token: string, body: PushSubscriptionRequest): Promise<void> {
		await this.call("PUT", "/api/devices/push", null, { token, body });
	}

	async deletePushSubscription(token: string): Promise<void> {
		await this.call("DELETE", "/api/devices/push", null, { token });
	}

	creditHistory(token: string): Promise<CreditHistory> {
		return this.call("GET", "/api/account/credits", creditHistory, { token });
	}

	creditPacks(): Promise<CreditPacksResponse> {
		return this.call("GET", "/api/credits/packs", creditPacksResponse, {});
	}

	checkout(token: string, pack: number): Promise<CheckoutResponse> {
		return this.call("POST", "/api/credits/checkout", checkoutResponse, { token, body: { pack } });
	}

	/** This device's own key envelopes for a contact. */
	async contactKeys(token: string, peerId: string): Promise<Envelope[]> {
		return (await this.call("GET", `${this.contactPath(peerId)}/keys`, envelopeList, { token })).envelopes;
	}

	/** The contact's approved devices and signed device list. */
	contactDevices(token: string, peerId: string): Promise<DeviceList> {
		return this.call("GET", `${this.contactPath(peerId)}/devices`, deviceList, { token });
	}

	/** Whether this account takes calls from the contact. */
	async setCallPermission(token: string, peerId: string, allow: boolean): Promise<Contact> {
		return (await this.call("POST", `${this.contactPath(peerId)}/calls`, contactResponse, { token, body: { allow } })).contact;
	}

	/** "Not now" to a contact's waiting call request. */
	async dismissCallRequest(token: string, peerId: string): Promise<void> {
		await this.call("DELETE", `${this.contactPath(peerId)}/call-request`, null, { token });
	}

	/** STUN and TURN servers for a call, with a TURN credential that expires. */
	turn(token: string): Promise<TurnResponse> {
		return this.call("GET", "/api/turn", turnResponse, { token });
	}

	private contactPath(peerId: string): string {
		return `/api/contacts/${parseAccountId(peerId)}`;
	}

	/** `schema` null: the route answers 204 with no body. */
	private async call<T>(
		method: "GET" | "POST" | "PUT" | "DELETE",
		path: string,
		schema: Schema<T> | null,
		opts: { token?: string; body?: unknown },
	): Promise<T> {
		const headers: Record<string, string> = {};
		if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
		if (opts.body !== undefined) headers["content-type"] = "application/json";
		const what = `${method} ${path}`;
		let status: number;
		let ok: boolean;
		let text: string;
		try {
			const response = await this.fetchFn(`${this.baseUrl}${path}`, {
				method,
				headers,
				body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
			});
			({ status, ok } = response);
			text = await response.text();
		} catch (err) {
			throw new SdkError("network", `${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
		}
		if (!ok) {
			let body: ReturnType<typeof errorBody.parse>;
			try {
				body = parseJson(errorBody, text);
			} catch {
				throw new SdkError(codeForStatus(status), `${what} answered ${status}`);
			}
			const { code, message, retryAfter } = body.error;
			throw new SdkError(code, message, retryAfter === undefined ? {} : { retryAfter });
		}
		if (schema === null) return undefined as T;
		try {
			return parseJson(schema, text);
		} catch (err) {
			if (err instanceof ValidationError) throw new SdkError("internal", `${what} answered with a malformed body: ${err.message}`);
			throw err;
		}
	}
}
