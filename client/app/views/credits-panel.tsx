import { useEffect, useState } from "preact/hooks";
import type { CreditHistory, CreditPacksResponse } from "../../../common/protocol/wire.ts";
import { errorText } from "../error-text.ts";
import { formatDuration, formatTime, plural } from "../format.ts";
import { ledgerWhat } from "../ledger-text.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { formatPrice } from "../prices.ts";
import { consumePurchaseReturn, type PurchaseReturn } from "../purchase-return.ts";
import { ErrorLine } from "./error-line.tsx";

/** How long after coming back from Checkout the panel looks again: Stripe's webhook may land a moment after the browser. */
const RECHECK_MS = 4000;

const RETURN_TEXT: Record<PurchaseReturn, string> = {
	added: "Credits added. They show in your balance as soon as the payment is confirmed.",
	cancelled: "Payment cancelled. Nothing was charged.",
};

function BuyCredits({ controller }: { controller: MessengerController }) {
	const [offer, setOffer] = useState<CreditPacksResponse | null>(null);
	const [buying, setBuying] = useState<number | null>(null);
	const [error, setError] = useState<string | null>(null);
	useEffect(() => {
		controller.creditPacks().then(setOffer, (err) => setError(errorText(err)));
	}, [controller]);
	const buy = (pack: number) => {
		setBuying(pack);
		setError(null);
		// On success the page leaves for Stripe, so only a failure comes back here.
		controller.buyCredits(pack).catch((err) => {
			setBuying(null);
			setError(errorText(err));
		});
	};
	return (
		<>
			<h3 class="section-title">Buy credits</h3>
			<ErrorLine text={error} />
			{offer && !offer.forSale && (
				<p class="hint" data-testid="credits-granted">
					This server does not sell credits: its operator grants them to accounts through the relay's admin API.
				</p>
			)}
			{offer?.forSale && offer.currency && (
				<ul class="credit-packs" data-testid="credit-packs">
					{offer.packs.map((pack) => (
						<li key={pack.credits}>
							<span>
								{plural(pack.credits, "credit")} · {formatPrice(pack.price, offer.currency as string)}
							</span>
							<button type="button" disabled={buying !== null} onClick={() => buy(pack.credits)}>
								{buying === pack.credits ? "Opening payment…" : `Buy ${pack.credits}`}
							</button>
						</li>
					))}
				</ul>
			)}
		</>
	);
}

const TRUST: Record<string, string> = {
	untrusted: "New account",
	trusted: "Trusted account",
	verified: "Verified account",
};

export function CreditsPanel({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	const [history, setHistory] = useState<CreditHistory["entries"] | null>(null);
	const [error, setError] = useState<string | null>(null);
	const [returned] = useState(consumePurchaseReturn);
	useEffect(() => {
		const load = () => {
			void controller.refreshAccount();
			controller.creditHistory().then(
				(h) => setHistory(h.entries),
				(err) => setError(errorText(err)),
			);
		};
		load();
		// The balance also arrives by itself (the relay tells open devices); this catches a webhook slower than the browser.
		const again = returned === "added" ? setTimeout(load, RECHECK_MS) : undefined;
		return () => clearTimeout(again);
	}, [controller, returned]);
	const { account, limits } = state;
	return (
		<section class="panel" aria-labelledby="credits-title">
			<h2 id="credits-title">Credits</h2>
			{returned && (
				<output class="notice" data-testid="purchase-return">
					{RETURN_TEXT[returned]}
				</output>
			)}
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
			<BuyCredits controller={controller} />
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
								<td>{ledgerWhat(entry)}</td>
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
