import type { MessengerController } from "../messenger-controller.ts";

/** Another tab of this browser holds the connection (one connection per device). */
export function Replaced({ controller }: { controller: MessengerController }) {
	return (
		<section class="welcome card" aria-labelledby="replaced-title">
			<h1 id="replaced-title">Open in another tab</h1>
			<p>Secure Messaging is open in another tab or window of this browser. Only one of them can be connected at a time.</p>
			<button type="button" class="primary" onClick={() => void controller.useHere()}>
				Use it here
			</button>
		</section>
	);
}

/** The device was removed from its account, or the server no longer knows it. */
export function Removed({ controller }: { controller: MessengerController }) {
	return (
		<section class="welcome card" aria-labelledby="removed-title">
			<h1 id="removed-title">This device was signed out</h1>
			<p>It was removed from its account, or the server no longer knows it. Its keys cannot be used any more.</p>
			<button type="button" class="primary" onClick={() => void controller.forgetDevice().then(() => location.reload())}>
				Delete its data and start again
			</button>
		</section>
	);
}
