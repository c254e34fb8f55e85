/**
 * Files that come to the composer other than through its file picker: dropped onto the
 * conversation, or pasted (a screenshot, an image copied from another page). Either way only
 * the first file is taken, and it becomes the pending file the person still confirms.
 */
import { useEffect, useRef, useState } from "preact/hooks";

/** Whether a drag carries files, rather than text or a link being dragged about. */
function carriesFiles(e: DragEvent): boolean {
	return e.dataTransfer?.types.includes("Files") ?? false;
}

/**
 * The first file on the clipboard of a paste, or null to let the browser paste the text.
 * Office programs put a picture of the copied cells or text beside the text itself: when
 * there is text, the person meant the text.
 */
export function pastedFile(data: DataTransfer | null): File | null {
	if (!data || data.getData("text/plain") !== "") return null;
	for (const item of Array.from(data.items)) {
		const file = item.kind === "file" ? item.getAsFile() : null;
		if (file) return file;
	}
	return null;
}

/**
 * A file dropped anywhere on `area` goes to `onFile`. Returns whether a file is being
 * dragged over the area now, for the view to show where it can be dropped.
 */
export function useFileDrop(area: HTMLElement | null, onFile: (file: File) => void): boolean {
	const [dragging, setDragging] = useState(false);
	const latest = useRef(onFile);
	latest.current = onFile;
	useEffect(() => {
		if (!area) return;
		// Entering a child of the area fires dragenter on it before dragleave on the one left:
		// the drag is over the area until every enter has had its leave.
		let depth = 0;
		const enter = (e: DragEvent) => {
			if (!carriesFiles(e)) return;
			e.preventDefault();
			depth++;
			setDragging(true);
		};
		const over = (e: DragEvent) => {
			if (!carriesFiles(e)) return;
			// Cancelled, or the browser would not let the file be dropped here.
			e.preventDefault();
			if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
		};
		const leave = (e: DragEvent) => {
			if (!carriesFiles(e)) return;
			depth = Math.max(0, depth - 1);
			if (depth === 0) setDragging(false);
		};
		const drop = (e: DragEvent) => {
			if (!carriesFiles(e)) return;
			e.preventDefault();
			depth = 0;
			setDragging(false);
			const file = e.dataTransfer?.files[0];
			if (file) latest.current(file);
		};
		// A file dropped just beside the area would make the browser open it in the app's place.
		const elsewhere = (e: DragEvent) => {
			if (!carriesFiles(e) || e.defaultPrevented) return;
			e.preventDefault();
			if (e.dataTransfer) e.dataTransfer.dropEffect = "none";
		};
		area.addEventListener("dragenter", enter);
		area.addEventListener("dragover", over);
		area.addEventListener("dragleave", leave);
		area.addEventListener("drop", drop);
		const view = area.ownerDocument.defaultView;
		view?.addEventListener("dragover", elsewhere);
		view?.addEventListener("drop", elsewhere);
		return () => {
			area.removeEventListener("dragenter", enter);
			area.removeEventListener("dragover", over);
			area.removeEventListener("dragleave", leave);
			area.removeEventListener("drop", drop);
			view?.removeEventListener("dragover", elsewhere);
			view?.removeEventListener("drop", elsewhere);
			setDragging(false);
		};
	}, [area]);
	return dragging;
}
