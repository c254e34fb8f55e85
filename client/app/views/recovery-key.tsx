import { useState } from "preact/hooks";
import { errorText } from "../error-text.ts";
import { pickPositions, recoveryFileText, reminderShown, splitWords } from "../features/recovery.ts";
import type { MessengerController, MessengerState } from "../messenger-controller.ts";
import { useAction } from "../use-messenger.ts";
import { DeviceNameField, guessDeviceName } from "./device-name-field.tsx";
import { ErrorLine } from "./error-line.tsx";

/** What clearing the site's data would mean, said wherever the storage is. */
export const CLEARING_SITE_DATA =
	"If this site's data is cleared, this browser's keys and history are gone; you can get back in with your recovery key or from another device.";

/** A .txt file made in the browser: the words never leave it on their way to the disk. */
function saveAsFile(handle: string, words: string): void {
	const blob = new Blob([recoveryFileText(handle, words, new Date())], { type: "text/plain;charset=utf-8" });
	const url = URL.createObjectURL(blob);
	const a = document.createElement("a");
	a.href = url;
	a.download = `recovery-key-${handle}.txt`;
	a.rel = "noopener";
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const positionsText = (positions: readonly number[]): string => {
	const named = positions.map((p) => `word ${p}`);
	return named.length <= 1 ? (named[0] ?? "") : `${named.slice(0, -1).join(", ")} and ${named.at(-1)}`;
};

/** The three words typed back, by position. */
function ConfirmWords({ controller, count, onBack }: { controller: MessengerController; count: number; onBack: () => void }) {
	const [positions] = useState(() => pickPositions(count));
	const [answers, setAnswers] = useState<string[]>(() => positions.map(() => ""));
	const [wrong, setWrong] = useState<number[]>([]);
	return (
		<form
			class="stack"
			aria-label="Confirm your recovery key"
			onSubmit={(e) => {
				e.preventDefault();
				setWrong(controller.confirmRecoveryKey(positions, answers));
			}}
		>
			<p>To be sure your copy is right, type these words of it.</p>
			{positions.map((position, i) => (
				<label key={position}>
					Word {position}
					<input
						name={`word-${position}`}
						data-position={position}
						value={answers[i]}
						onInput={(e) => {
							const value = e.currentTarget.value;
							setAnswers((before) => before.map((a, j) => (j === i ? value : a)));
						}}
						autocomplete="off"
						autocapitalize="none"
						spellcheck={false}
						required
						aria-invalid={wrong.includes(position) ? "true" : undefined}
					/>
				</label>
			))}
			<ErrorLine
				text={
					wrong.length === 0
						? null
						: `${positionsText(wrong).replace(/^w/, "W")} ${wrong.length === 1 ? "is" : "are"} not right. Look at your saved copy, or go back to the words.`
				}
			/>
			<div class="actions">
				<button type="submit" class="primary">
					Check
				</button>
				<button type="button" onClick={onBack}>
					Back to the words
				</button>
			</div>
		</form>
	);
}

/** The words of a recovery key just made, on a screen of their own, until they are confirmed or put off. */
export function RecoveryKeySetup({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	const [step, setStep] = useState<"words" | "check">("words");
	const { words } = state.recovery;
	const handle = state.me?.handle ?? "account";
	if (!words) {
		return (
			<section class="welcome card recovery-setup" aria-labelledby="recovery-title" aria-busy="true">
				<h1 id="recovery-title">Your recovery key</h1>
				<p>Making your recovery key…</p>
			</section>
		);
	}
	const list = splitWords(words);
	return (
		<section class="welcome card recovery-setup" aria-labelledby="recovery-title">
			<h1 id="recovery-title">Your recovery key</h1>
			{step === "words" ? (
				<>
					<p>
						These 12 words are the only way back into <strong>@{handle}</strong> if you lose this browser and have no other device. Write
						them down or save them as a file, and keep them somewhere private: anyone who has them can sign in as you.
					</p>
					<ol class="recovery-words" data-testid="recovery-words">
						{list.map((word, i) => (
							<li key={i}>
								<span class="recovery-number" aria-hidden="true">
									{i + 1}
								</span>
								<span class="recovery-word" data-testid="recovery-word">
									{word}
								</span>
							</li>
						))}
					</ol>
					<p class="hint">They are shown only now. Nobody else has them, not even the server: it cannot show them to you again.</p>
					<div class="actions">
						<button type="button" onClick={() => saveAsFile(handle, words)}>
							Save as a file
						</button>
						<button type="button" class="primary" onClick={() => setStep("check")}>
							I have saved it
						</button>
						<button type="button" class="link" onClick={() => controller.recoveryKeyLater()}>
							Later
						</button>
					</div>
				</>
			) : (
				<ConfirmWords controller={controller} count={list.length} onBack={() => setStep("words")} />
			)}
		</section>
	);
}

/** A banner over the app until the account has a recovery key the person saved and confirmed. */
export function RecoveryReminder({
	controller,
	state,
	onOpenDevices,
}: {
	controller: MessengerController;
	state: MessengerState;
	onOpenDevices: () => void;
}) {
	const make = useAction(
		() => controller.makeRecoveryKey(),
		(err) => errorText(err, "recovery"),
	);
	if (!reminderShown(state.recovery)) return null;
	const { recovery } = state;
	return (
		<section class="recovery-reminder" aria-label="Recovery key reminder" data-testid="recovery-reminder">
			<p>
				{recovery.words
					? "You have not confirmed your recovery key yet. Without it and without another device, losing this browser means losing your account."
					: recovery.hasKey === false
						? "Your account has no recovery key. Without one and without another device, losing this browser means losing your account."
						: "Your recovery key was not confirmed in this browser. Make sure you have it, or make a new one."}
			</p>
			<div class="actions">
				{recovery.words ? (
					<button type="button" class="primary" onClick={() => controller.showRecoveryKey()}>
						Show my recovery key
					</button>
				) : recovery.hasKey === false ? (
					<button type="button" class="primary" disabled={make.busy} onClick={() => void make.run()}>
						Make a recovery key
					</button>
				) : (
					<button type="button" onClick={onOpenDevices}>
						Open the recovery key settings
					</button>
				)}
			</div>
			<ErrorLine text={make.error} />
		</section>
	);
}

function StorageStatus({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	const keep = useAction(
		() => controller.keepStorage(),
		(err) => errorText(err),
	);
	const granted = state.persistentStorage;
	return (
		<div class="stack">
			<h3 class="section-title">Storage in this browser</h3>
			<p data-testid="storage-status" data-persisted={String(granted)}>
				{granted === true
					? "This browser granted persistent storage: it keeps this app's data until you clear it."
					: granted === false
						? "This browser has not granted persistent storage: it may clear this app's data when space runs low."
						: "This browser does not say whether it keeps this app's data."}
			</p>
			<p class="hint">{CLEARING_SITE_DATA}</p>
			{granted === false && (
				<div class="actions">
					<button type="button" disabled={keep.busy} onClick={() => void keep.run()}>
						Ask the browser to keep it
					</button>
				</div>
			)}
		</div>
	);
}

/** The recovery key's state and a new one on request; and whether the browser keeps the keys. */
/** Type in the words kept on paper or in a file: are they still this account's recovery key? */
function CheckSavedWords({ controller }: { controller: MessengerController }) {
	const [words, setWords] = useState("");
	const [verdict, setVerdict] = useState<boolean | null>(null);
	const check = useAction(
		async () => setVerdict(await controller.checkSavedRecoveryKey(words)),
		(err) => errorText(err, "recovery"),
	);
	return (
		<form
			class="stack check-recovery-key"
			onSubmit={(e) => {
				e.preventDefault();
				setVerdict(null);
				void check.run();
			}}
		>
			<label for="check-recovery-words">Check the words you saved</label>
			<textarea
				id="check-recovery-words"
				rows={2}
				autocomplete="off"
				spellcheck={false}
				value={words}
				onInput={(e) => setWords(e.currentTarget.value)}
			/>
			<div class="actions">
				<button type="submit" disabled={check.busy || words.trim() === ""}>
					Check these words
				</button>
			</div>
			<output data-testid="recovery-check" aria-live="polite">
				{verdict === true && "These are this account's recovery key."}
				{verdict === false && "These words are not this account's recovery key. If the key you kept is lost, make a new one."}
			</output>
			<ErrorLine text={check.error} />
		</form>
	);
}

export function RecoverySettings({ controller, state }: { controller: MessengerController; state: MessengerState }) {
	const [replacing, setReplacing] = useState(false);
	const make = useAction(
		() => controller.makeRecoveryKey(),
		(err) => errorText(err, "recovery"),
	);
	const { recovery } = state;
	const status =
		recovery.hasKey === null
			? "Checking whether this account has a recovery key…"
			: recovery.hasKey
				? recovery.confirmed
					? "This account has a recovery key, and you saved and confirmed it."
					: "This account has a recovery key, but it was not confirmed in this browser."
				: "This account has no recovery key.";
	return (
		<section class="stack recovery-settings" aria-labelledby="recovery-settings-title">
			<h3 id="recovery-settings-title" class="section-title">
				Recovery key
			</h3>
			<p data-testid="recovery-status" data-has-key={String(recovery.hasKey)} data-confirmed={String(recovery.confirmed)}>
				{status}
			</p>
			<p class="hint">With your handle and its 12 words you can sign in on a new browser when you have no other device.</p>
			{reminderShown(state.recovery) && (
				<p class="warning" data-testid="recovery-settings-reminder">
					Until you have saved and confirmed a recovery key, losing your devices means losing this account.
				</p>
			)}
			{replacing ? (
				<div class="stack">
					<p class="warning">
						Your current recovery key stops working at once: only the new one can restore the account. Save the new words before you leave
						this page.
					</p>
					<div class="actions">
						<button
							type="button"
							class="danger"
							disabled={make.busy}
							onClick={() => void make.run().then((ok) => ok && setReplacing(false))}
						>
							Yes, make a new recovery key
						</button>
						<button type="button" onClick={() => setReplacing(false)}>
							Cancel
						</button>
					</div>
				</div>
			) : (
				<div class="actions">
					{recovery.words && (
						<button type="button" class="primary" onClick={() => controller.showRecoveryKey()}>
							Show my recovery key
						</button>
					)}
					{recovery.hasKey === false ? (
						<button type="button" class="primary" disabled={make.busy} onClick={() => void make.run()}>
							Make a recovery key
						</button>
					) : (
						<button type="button" disabled={recovery.hasKey === null || make.busy} onClick={() => setReplacing(true)}>
							Make a new recovery key
						</button>
					)}
				</div>
			)}
			<ErrorLine text={make.error} />
			{recovery.hasKey && <CheckSavedWords controller={controller} />}
			<StorageStatus controller={controller} state={state} />
		</section>
	);
}

/** A new browser, no other device: the handle and the 12 words bring the account back. */
export function RestoreAccountForm({ controller }: { controller: MessengerController }) {
	const [handle, setHandle] = useState("");
	const [words, setWords] = useState("");
	const [deviceName, setDeviceName] = useState(guessDeviceName());
	const action = useAction(
		(h: string, w: string, d: string) => controller.restore(h, w, d),
		(err) => errorText(err, "restore"),
	);
	return (
		<form
			class="stack"
			aria-label="Sign in with your recovery key"
			onSubmit={(e) => {
				e.preventDefault();
				void action.run(handle.trim(), words, deviceName.trim());
			}}
		>
			<p>If you have no other device of your account, its recovery key brings it back to this browser.</p>
			<label>
				Your handle
				<input
					name="handle"
					value={handle}
					onInput={(e) => setHandle(e.currentTarget.value)}
					autocomplete="username"
					autocapitalize="none"
					spellcheck={false}
					required
				/>
			</label>
			<label>
				Your recovery key
				<textarea
					name="recoveryKey"
					value={words}
					onInput={(e) => setWords(e.currentTarget.value)}
					rows={4}
					autocomplete="off"
					autocapitalize="none"
					spellcheck={false}
					required
					aria-describedby="recovery-key-hint"
				/>
			</label>
			<p id="recovery-key-hint" class="hint">
				The 12 words, in their order. Upper or lower case, spaces or line breaks between them: all the same.
			</p>
			<DeviceNameField value={deviceName} onInput={setDeviceName} />
			<ErrorLine text={action.error} />
			<button type="submit" class="primary" disabled={action.busy}>
				{action.busy ? "Signing in…" : "Sign in"}
			</button>
		</form>
	);
}
