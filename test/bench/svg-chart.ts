/**
 * Latency percentiles by N as an SVG line chart, written by hand: one panel per workload,
 * log-scale milliseconds, our relay solid and the floor dashed.
 */
import type { SizeResult } from "./results.ts";
import type { LatencySummary } from "./stats.ts";

const WIDTH = 1010;
const HEIGHT = 460;
const PANEL_W = 400;
const PANEL_H = 300;
const TOP = 70;
const LEFTS = [80, 560];
const PERCENTILES = [
	{ key: "p50", color: "#1b7f3b" },
	{ key: "p90", color: "#c77700" },
	{ key: "p99", color: "#b3261e" },
] as const;

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function logRange(values: number[]): { lo: number; hi: number } {
	const finite = values.filter((v) => Number.isFinite(v) && v > 0);
	const lo = 10 ** Math.floor(Math.log10(Math.min(...finite, 1)));
	const hi = 10 ** Math.ceil(Math.log10(Math.max(...finite, lo * 10)));
	return { lo, hi };
}

function panel(
	left: number,
	title: string,
	sizes: SizeResult[],
	pick: (s: SizeResult, kind: "relay" | "floor") => LatencySummary,
	range: { lo: number; hi: number },
): string {
	const parts: string[] = [];
	const x = (i: number) => left + (sizes.length === 1 ? PANEL_W / 2 : (i * PANEL_W) / (sizes.length - 1));
	const y = (v: number) =>
		TOP + PANEL_H - ((Math.log10(v) - Math.log10(range.lo)) / (Math.log10(range.hi) - Math.log10(range.lo))) * PANEL_H;
	parts.push(`<text x="${left + PANEL_W / 2}" y="${TOP - 14}" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`);
	parts.push(`<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#999"/>`);
	for (let decade = range.lo; decade <= range.hi * 1.0001; decade *= 10) {
		const yy = y(decade).toFixed(1);
		parts.push(`<line x1="${left}" x2="${left + PANEL_W}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
		parts.push(
			`<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${decade >= 1 ? decade : decade.toPrecision(1)}</text>`,
		);
	}
	sizes.forEach((s, i) => {
		parts.push(
			`<text x="${x(i).toFixed(1)}" y="${TOP + PANEL_H + 18}" text-anchor="middle">N = ${s.devices.toLocaleString("en-US")}</text>`,
		);
	});
	for (const kind of ["relay", "floor"] as const) {
		for (const { key, color } of PERCENTILES) {
			const points = sizes
				.map((s, i) => [x(i), pick(s, kind)[key]] as const)
				.filter(([, v]) => Number.isFinite(v) && v > 0)
				.map(([xx, v]) => `${xx.toFixed(1)},${y(v).toFixed(1)}`);
			if (points.length === 0) continue;
			const dash = kind === "floor" ? ' stroke-dasharray="6 4"' : "";
			parts.push(`<polyline points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
			for (const point of points) {
				const [px, py] = point.split(",");
				parts.push(
					kind === "relay"
						? `<circle cx="${px}" cy="${py}" r="3.5" fill="${color}"/>`
						: `<rect x="${Number(px) - 3}" y="${Number(py) - 3}" width="6" height="6" fill="white" stroke="${color}"/>`,
				);
			}
		}
	}
	return parts.join("\n");
}

export function latencyChart(sizes: SizeResult[], subtitle: string): string {
	const all = sizes.flatMap((s) =>
		(["relay", "floor"] as const).flatMap((k) => [s[k].singlePair.latencyMs, s[k].paced.latencyMs].flatMap((l) => [l.p50, l.p90, l.p99])),
	);
	const range = logRange(all);
	const legendY = HEIGHT - 28;
	const legend = [
		...PERCENTILES.map(
			({ key, color }, i) =>
				`<line x1="${80 + i * 110}" x2="${110 + i * 110}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"/><text x="${116 + i * 110}" y="${legendY}" dominant-baseline="middle">${key}</text>`,
		),
		`<line x1="450" x2="480" y1="${legendY}" y2="${legendY}" stroke="#333" stroke-width="2"/><circle cx="465" cy="${legendY}" r="3.5" fill="#333"/><text x="486" y="${legendY}" dominant-baseline="middle">our relay (workerd)</text>`,
		`<line x1="660" x2="690" y1="${legendY}" y2="${legendY}" stroke="#333" stroke-width="2" stroke-dasharray="6 4"/><rect x="672" y="${legendY - 3}" width="6" height="6" fill="white" stroke="#333"/><text x="696" y="${legendY}" dominant-baseline="middle">floor (raw ws relay on Node)</text>`,
	];
	return [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
		`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
		`<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Delivery latency, send → recipient socket (ms, log scale)</text>`,
		`<text x="${WIDTH / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(subtitle)}</text>`,
		panel(LEFTS[0] as number, "one sending pair", sizes, (s, k) => s[k].singlePair.latencyMs, range),
		panel(LEFTS[1] as number, "paced load, all pairs", sizes, (s, k) => s[k].paced.latencyMs, range),
		...legend,
		"</svg>",
		"",
	].join("\n");
}
