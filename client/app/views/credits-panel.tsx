import { useEffect, useState } from "preact/hooks";
import type { CreditHistory } from "../../../common/protocol/wire.ts";
import { errorText } from "../error-text.ts";
import { formatDuration, formatTime, plural } from "../format.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { ErrorLine } from "./error-line.tsx";

const REASONS: Record<string, string> = {
	starting_balance: "Starting balance",
	text: "Text message",
	attachment: "Attachment",
	edit: "Edited a message",
	delete: "Deleted a message",
};

const TRUST: Record<string, string> = {
	untrusted: "New account",
	trusted: "Trusted account",
	verified: "Verified account",
};

export function CreditsPanel({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	const [history, setHistory] = useState<CreditHistory["entries"] | null>(null);
	const [error, setError] = useState<string | null>(null);
	useEffect(() => {
		void controller.refreshAccount();
		controller.creditHistory().then(
			(h) => setHistory(h.entries),
			(err) => setError(errorText(err)),
		);
	}, [controller]);
	const { account, limits } = state;
	return (
		<section class="panel" aria-labelledby="credits-title">
			<h2 id="credits-title">Credits</h2>
			{account && (
				<dl class="facts big">
					<dt>Balance</dt>
					<dd data-testid="credit-balance">{plural(account.credits, "credit")}</dd>
					<dt>Account</dt>
					<dd>{TRUST[account.trust] ?? account.trust}</dd>
					<dt>Left today</dt>
					<dd>{account.quotaLeft === null ? "no daily limit" : plural(account.quotaLeft, "message")}</dd>
				</dl>
			)}
			{limits && (
				<>
					<h3 class="section-title">Prices</h3>
					<table class="prices">
						<tbody>
							<tr>
								<th scope="row">Text message</th>
								<td>{plural(limits.prices.text, "credit")}</td>
							</tr>
							<tr>
								<th scope="row">Edit a message</th>
								<td>{plural(limits.prices.edit, "credit")}</td>
							</tr>
							<tr>
								<th scope="row">Delete a message</th>
								<td>{plural(limits.prices.delete, "credit")}</td>
							</tr>
							<tr>
								<th scope="row">React to a message</th>
								<td>{plural(limits.prices.reaction, "credit")}</td>
							</tr>
							<tr>
								<th scope="row">Delete a message for you only</th>
								<td>free</td>
							</tr>
							<tr>
								<th scope="row">Reading and receiving</th>
								<td>free</td>
							</tr>
						</tbody>
					</table>
					<p class="hint">
						You can send {plural(limits.rateLimit.count, "message")} every {formatDuration(limits.rateLimit.windowMs)}, and{" "}
						{limits.quotaPerDay.untrusted} a day while your account is new ({limits.quotaPerDay.trusted} once it is trusted).
					</p>
				</>
			)}
			<h3 class="section-title">History</h3>
			<ErrorLine text={error} />
			{history === null && !error && <p class="empty">Loading…</p>}
			{history && history.length === 0 && <p class="empty">No charges yet.</p>}
			{history && history.length > 0 && (
				<table class="ledger">
					<thead>
						<tr>
							<th scope="col">When</th>
							<th scope="col">What</th>
							<th scope="col">Change</th>
							<th scope="col">Balance</th>
						</tr>
					</thead>
					<tbody>
						{history.map((entry) => (
							<tr key={`${entry.createdAt}-${entry.ref ?? entry.reason}-${entry.balanceAfter}`}>
								<td>{formatTime(entry.createdAt)}</td>
								<td>{REASONS[entry.reason] ?? entry.reason}</td>
								<td class={entry.delta < 0 ? "debit" : "credit"}>{entry.delta > 0 ? `+${entry.delta}` : entry.delta}</td>
								<td>{entry.balanceAfter}</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
			<p class="hint">Every charge up to now is listed, the same ones the balance above counts.</p>
		</section>
	);
}
