import { Component, type ComponentChildren } from "preact";
import { errorText } from "../error-text.ts";

interface Props {
	/** What shows in place of the children once one of them threw while rendering. */
	fallback: (error: unknown) => ComponentChildren;
	children: ComponentChildren;
}

interface State {
	failed: boolean;
	error: unknown;
}

/**
 * Catches what its children throw while rendering, so that one part the app cannot show (a
 * record it cannot read, a bug) replaces only that part instead of blanking the page.
 */
export class ErrorBoundary extends Component<Props, State> {
	state: State = { failed: false, error: undefined };

	static getDerivedStateFromError(error: unknown): State {
		return { failed: true, error };
	}

	componentDidCatch(error: unknown): void {
		// Kept for whoever debugs it; the user sees the fallback.
		console.error("A part of the page could not be shown:", error);
	}

	render() {
		return this.state.failed ? this.props.fallback(this.state.error) : this.props.children;
	}
}

/** The whole app (or widget) failed to render: say so in a sentence and offer a reload. */
export function Crashed({ error, compact = false }: { error: unknown; compact?: boolean }) {
	return (
		<section class={compact ? "widget-body stack" : "welcome card"} role="alert" aria-labelledby="crashed-title">
			{compact ? <h2 id="crashed-title">This chat stopped</h2> : <h1 id="crashed-title">Secure Messaging stopped</h1>}
			<p>{errorText(error)}</p>
			<p class="hint">Your keys and messages are kept in this browser; reloading does not lose them.</p>
			<button type="button" class="primary" onClick={() => location.reload()}>
				Reload
			</button>
		</section>
	);
}
