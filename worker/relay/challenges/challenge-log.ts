import type { TimedJob } from "../deadline-scheduler.ts";
import type { JobName, RelayHost } from "../host.ts";

/**
 * Login challenges already redeemed by this account's devices, kept until they expire so a
 * signed challenge cannot be replayed. The challenge itself is stateless (HMAC-signed by the
 * worker); only its spending is recorded, here.
 */
export class ChallengeLog implements TimedJob<JobName> {
	readonly name = "challenge-expiry";

	constructor(private readonly host: RelayHost) {}

	/** Marks a challenge nonce as redeemed; false if it already was (a replay). */
	async redeem(nonce: string, expiresAt: number): Promise<boolean> {
		const inserted = this.host.sql
			.exec("INSERT INTO used_challenges (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING nonce", nonce, expiresAt)
			.toArray();
		if (inserted.length === 0) return false;
		await this.host.schedule("challenge-expiry", expiresAt);
		return true;
	}

	async run(now: number): Promise<number | null> {
		this.host.sql.exec("DELETE FROM used_challenges WHERE expires_at <= ?", now);
		return this.host.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM used_challenges").one().at;
	}
}
