import type { RelayHost } from "../host.ts";

/**
 * How long a spent challenge is kept past its expiry. The worker checks a challenge's expiry
 * on its own clock and this object forgets the spending on this one; were the two a moment
 * apart, a nonce forgotten the instant it expired here could still pass there, and be spent
 * twice. A minute covers any skew between two machines of one operator.
 */
export const SPENT_KEPT_PAST_EXPIRY_MS = 60_000;

/**
 * Login challenges already redeemed by this account's devices, kept until they expire so a
 * signed challenge cannot be replayed. The challenge itself is stateless (HMAC-signed by the
 * worker); only its spending is recorded, here.
 *
 * The spent ones are forgotten at the next redeem, not by an alarm: an alarm a minute after
 * every sign-in would wake the object (by then often evicted) only to delete one row, and
 * after a burst of sign-ins, such as many devices coming back at once, those wakes come in a
 * burst of their own a minute later. What is left after the last sign-in is a row or two.
 */
export class ChallengeLog {
	constructor(private readonly host: RelayHost) {}

	/** Marks a challenge nonce as redeemed; false if it already was (a replay). */
	redeem(nonce: string, expiresAt: number): boolean {
		this.host.sql.exec("DELETE FROM used_challenges WHERE expires_at <= ?", this.host.now() - SPENT_KEPT_PAST_EXPIRY_MS);
		const inserted = this.host.sql
			.exec("INSERT INTO used_challenges (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING nonce", nonce, expiresAt)
			.toArray();
		return inserted.length > 0;
	}
}
