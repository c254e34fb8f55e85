import { toB64u } from "../../common/encoding.ts";
import { signDetached } from "../../common/nacl.ts";
import { loginMessage } from "../../common/protocol/signing.ts";
import type { DeviceStatus } from "../../common/protocol/wire.ts";
import type { ApiClient } from "./api-client.ts";
import type { KeyStore } from "./key-store.ts";
import { SdkError } from "./sdk-error.ts";

export interface ActiveSession {
	token: string;
	/** As the relay's clock says. */
	expiresAt: number;
	/** When this client logs in again, on its own clock. */
	refreshAt: number;
	accountId: string;
	deviceId: string;
	handle: string;
	deviceStatus: DeviceStatus;
}

/** Share of a token's lifetime after which it is replaced before use. */
const REFRESH_AFTER = 0.8;

/** Holds the session token and logs in again (a challenge signed with the device key) whenever it is missing or near its end. */
export class SessionKeeper {
	private active: ActiveSession | null = null;
	private pending: Promise<ActiveSession> | null = null;

	constructor(
		private readonly api: ApiClient,
		private readonly store: KeyStore,
	) {}

	/** A session that stays valid for a while yet. */
	async current(): Promise<ActiveSession> {
		if (this.active && Date.now() < this.active.refreshAt) return this.active;
		return this.login();
	}

	/** Log in now; concurrent callers share one login. */
	login(): Promise<ActiveSession> {
		this.pending ??= this.signIn().finally(() => {
			this.pending = null;
		});
		return this.pending;
	}

	/** Forget the token (all of them, or only this one if it is still the current one). */
	invalidate(token?: string): void {
		if (token === undefined || this.active?.token === token) this.active = null;
	}

	/**
	 * Run an authenticated call. An `unauthorized` answer gets one retry with a fresh login:
	 * the token may have expired early by the relay's clock, or the relay's secret changed.
	 */
	async withToken<T>(call: (token: string) => Promise<T>): Promise<T> {
		const first = await this.current();
		try {
			return await call(first.token);
		} catch (err) {
			if (!(err instanceof SdkError) || err.code !== "unauthorized") throw err;
			this.invalidate(first.token);
			return call((await this.current()).token);
		}
	}

	private async signIn(): Promise<ActiveSession> {
		const identity = await this.store.getIdentity();
		if (!identity) throw new SdkError("unauthorized", "This device has no identity yet: register first.");
		const { challenge } = await this.api.challenge();
		const startedAt = Date.now();
		const session = await this.api.session({
			publicKey: toB64u(identity.publicKey),
			challenge,
			signature: toB64u(signDetached(identity.seed, loginMessage(challenge))),
		});
		if (session.accountId !== identity.accountId || session.deviceId !== identity.deviceId) {
			throw new SdkError("internal", "The relay signed this device in as another account or device.");
		}
		// The expiry is on the relay's clock. If ours is behind, the token dies before refreshAt:
		// HTTP calls then retry once after a fresh login, and a failed handshake logs in afresh.
		const lifetime = Math.max(0, session.expiresAt - startedAt);
		this.active = { ...session, refreshAt: startedAt + lifetime * REFRESH_AFTER };
		return this.active;
	}
}
