import { type ComponentChildren, render } from "preact";
import { useId, useLayoutEffect, useRef, useState } from "preact/hooks";

/**
 * Children rendered at the end of <body>, outside the conversation: its message list is a
 * live region, which would read a dialog opened inside it out as a new message.
 */
function BodyPortal({ children }: { children: ComponentChildren }) {
	const [host] = useState(() => document.createElement("div"));
	useLayoutEffect(() => {
		document.body.append(host);
		return () => {
			render(null, host);
			host.remove();
		};
	}, [host]);
	useLayoutEffect(() => {
		render(children, host);
	});
	return null;
}

interface ViewerProps {
	/** The object URL the message already shows: the decrypted bytes stay in this page. */
	url: string;
	/** The file's name, as it is shown and saved. */
	name: string;
	onDownload: () => void;
	/** Called once the viewer has closed (Escape, Close, or a click beside the image). */
	onClose: () => void;
}

/**
 * A native modal <dialog>: the browser makes the rest of the page inert, moves it to the top
 * layer above every stacking context, and turns Escape into a `close` event.
 */
function ViewerDialog({ url, name, onDownload, onClose }: ViewerProps) {
	const dialog = useRef<HTMLDialogElement>(null);
	const closeButton = useRef<HTMLButtonElement>(null);
	const title = useId();
	// In the commit, not after paint: the dialog is modal, and has the focus, before any next key.
	useLayoutEffect(() => {
		dialog.current?.showModal();
		closeButton.current?.focus();
	}, []);
	// Escape closes the dialog at once (and the browser moves the focus back), but its `close`
	// event is a later task: a key pressed in between would find the viewer still open in
	// state, and that late event would then shut a viewer the key had just reopened. So this
	// viewer closes itself on the cancel that Escape fires first (the page stops being inert,
	// so the focus can go back), reports it once, and ignores the late event.
	const closed = useRef(false);
	const finish = () => {
		if (closed.current) return;
		closed.current = true;
		onClose();
	};
	const close = () => {
		dialog.current?.close();
		finish();
	};
	return (
		// The click is the pointer's way to do what Escape does: a click beside the image closes.
		// biome-ignore lint/a11y/useKeyWithClickEvents: Escape closes it, as the dialog itself provides.
		<dialog
			ref={dialog}
			class="image-viewer"
			aria-labelledby={title}
			aria-modal="true"
			onCancel={close}
			onClose={finish}
			onClick={(e) => {
				const target = e.target as Element;
				if (target === e.currentTarget || target.classList.contains("image-viewer-stage")) close();
			}}
		>
			<div class="image-viewer-bar">
				<h2 id={title} class="image-viewer-title">
					{name}
				</h2>
				<button type="button" onClick={onDownload}>
					Download
				</button>
				<button type="button" ref={closeButton} onClick={close}>
					Close
				</button>
			</div>
			<div class="image-viewer-stage">
				<img src={url} alt={name} />
			</div>
		</dialog>
	);
}

/** An image of a message, full size over the page, with Download and Close. */
export function ImageViewer(props: ViewerProps) {
	return (
		<BodyPortal>
			<ViewerDialog {...props} />
		</BodyPortal>
	);
}
