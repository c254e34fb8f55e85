import { useMemo } from "preact/hooks";
import { qrMatrix, qrPath } from "../qr/qr-matrix.ts";

/**
 * A QR code as SVG, built as elements (never markup from a string). Always dark on white,
 * whatever the theme: that is what scanners expect. `label` names what it holds for screen
 * readers, which cannot read the picture.
 */
export function QrCode({ text, label, size = 220, testId }: { text: string; label: string; size?: number; testId?: string }) {
	const matrix = useMemo(() => qrMatrix(text), [text]);
	const modules = matrix.length;
	return (
		<svg
			class="qr-code"
			role="img"
			aria-label={label}
			data-testid={testId}
			width={size}
			height={size}
			viewBox={`0 0 ${modules} ${modules}`}
			shape-rendering="crispEdges"
		>
			<rect width={modules} height={modules} fill="#ffffff" />
			<path d={useMemo(() => qrPath(matrix), [matrix])} fill="#000000" />
		</svg>
	);
}
