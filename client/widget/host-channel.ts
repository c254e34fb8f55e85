import { type HostCommand, parseHostCommand, type WidgetEvent, type WithoutEnvelope, widgetEvent } from "./embed-api.ts";

/**
 * The widget's side of the embed API: posts only to the host origin named in the iframe's
 * URL (the browser drops a message whose target origin is not the parent's real origin) and
 * accepts commands only from the parent window at that origin.
 */
export class HostChannel {
	private constructor(
		private readonly host: string,
		private readonly parent: Window,
	) {}

	/**
	 * The channel to the embedding page, or null when there is none to trust: the page is not
	 * framed, the host parameter is not an origin, or (where the browser tells us, as Chromium
	 * does with `location.ancestorOrigins`) the real parent's origin is another one.
	 */
	static open(hostParam: string | null): HostChannel | null {
		if (window.parent === window || !hostParam) return null;
		let host: string;
		try {
			host = new URL(hostParam).origin;
		} catch {
			return null;
		}
		if (host !== hostParam || !/^https?:/.test(host)) return null;
		const ancestors = location.ancestorOrigins;
		if (ancestors && ancestors.length > 0 && ancestors[0] !== host) return null;
		return new HostChannel(host, window.parent);
	}

	post(event: WithoutEnvelope<WidgetEvent>): void {
		this.parent.postMessage(widgetEvent(event), this.host);
	}

	/** Listen for the host's commands; returns the function that stops listening. */
	onCommand(listener: (command: HostCommand) => void): () => void {
		const handler = (event: MessageEvent) => {
			if (event.origin !== this.host || event.source !== this.parent) return;
			const command = parseHostCommand(event.data);
			if (command) listener(command);
		};
		window.addEventListener("message", handler);
		return () => window.removeEventListener("message", handler);
	}
}
