import { errorText } from "../error-text.ts";
import { isFinished } from "../features/history-transfer.ts";
import { percentText, transferText } from "../history-text.ts";
import type { HistoryTransferState, MessengerController, MessengerState } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { ErrorLine } from "./error-line.tsx";

function TransferCard({
	controller,
	state,
	transfer,
}: {
	controller: MessengerController;
	state: MessengerState;
	transfer: HistoryTransferState;
}) {
	const skip = useAction(
		() => controller.skipHistory(transfer.transferId),
		(err) => errorText(err, "history"),
	);
	const retry = useAction(
		() => controller.retryHistory(transfer.transferId),
		(err) => errorText(err, "history"),
	);
	const device = state.devices?.find((d) => d.deviceId === transfer.peerDevice);
	const name = device ? `“${device.name}”` : transfer.role === "sending" ? "the new device" : "your other device";
	const { phase } = transfer;
	const moving = phase === "sending" || phase === "receiving";
	const skippable = phase === "waiting" || phase === "failed" || (transfer.role === "sending" && phase === "uploaded");
	const busy = skip.busy || retry.busy;
	return (
		<li class={`history-transfer ${phase}`} data-testid="history-transfer" data-role={transfer.role} data-phase={phase}>
			{/* Read out as it changes; the buttons stay outside, so that they are not read with each percent. */}
			<output class="history-text">{transferText(transfer, name)}</output>
			{moving && (
				<progress
					class="transfer"
					max={1}
					value={transfer.share ?? 0}
					aria-label={transfer.role === "sending" ? "Sending history" : "Receiving history"}
				>
					{percentText(transfer.share)}
				</progress>
			)}
			{(phase === "preparing" || phase === "importing") && (
				// No value: indeterminate while the archive is built or imported.
				<progress class="transfer" aria-label={phase === "preparing" ? "Preparing history" : "Importing history"} />
			)}
			{phase === "failed" && transfer.error && (
				<p class="error" role="alert">
					{transfer.error}
				</p>
			)}
			<div class="actions">
				{phase === "failed" && transfer.canRetry !== false && (
					<button type="button" class="primary" disabled={busy} onClick={() => void retry.run()}>
						Retry
					</button>
				)}
				{skippable && (
					<button type="button" disabled={busy} onClick={() => void skip.run()}>
						Skip
					</button>
				)}
				{isFinished(transfer) && (
					<button type="button" onClick={() => controller.dismissHistory(transfer.transferId)}>
						Dismiss
					</button>
				)}
			</div>
			<ErrorLine text={skip.error ?? retry.error} />
		</li>
	);
}

/** The history transfers this device sends or receives, over every view of the app, until dismissed. */
export function HistoryTransfers({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	if (state.historyTransfers.length === 0) return null;
	return (
		<section class="history-transfers" aria-label="History transfers">
			<ul>
				{state.historyTransfers.map((t) => (
					<TransferCard key={t.transferId} controller={controller} state={state} transfer={t} />
				))}
			</ul>
		</section>
	);
}
