import type { MessengerController, Notice } from "../messenger-controller.ts";

/** Errors and news that are not tied to one control, newest last; each can be dismissed. */
export function Notices({ controller, notices }: { controller: MessengerController; notices: Notice[] }) {
	return (
		<div class="notices" aria-live="polite">
			{notices.map((n) => (
				<p key={n.id} class={`notice ${n.tone}`} role={n.tone === "error" ? "alert" : "status"}>
					<span>{n.text}</span>
					<button type="button" class="dismiss" aria-label="Dismiss" onClick={() => controller.dismiss(n.id)}>
						×
					</button>
				</p>
			))}
		</div>
	);
}
