/**
 * The keys of a list that is one tab stop (a roving tabindex, WAI-ARIA APG "Managing focus
 * within components"): pure index arithmetic, apart from the DOM that applies it.
 */

/** Where a key moves the focus among the items of the list, if anywhere. */
export type ListMove = "previous" | "next" | "first" | "last";

const MOVES: Record<string, ListMove> = { ArrowUp: "previous", ArrowDown: "next", Home: "first", End: "last" };

export function listMove(key: string): ListMove | null {
	return MOVES[key] ?? null;
}

/**
 * The index the focus goes to from `at` among `count` items. The ends stop it rather than
 * wrap: in a conversation, jumping from the newest message to the oldest would be a surprise.
 * An `at` of -1 (nothing focused yet) counts as just past the end.
 */
export function movedIndex(move: ListMove, at: number, count: number): number {
	if (count <= 0) return -1;
	const from = at < 0 || at >= count ? count : at;
	switch (move) {
		case "first":
			return 0;
		case "last":
			return count - 1;
		case "previous":
			return Math.max(0, from - 1);
		case "next":
			return Math.min(count - 1, from + 1);
	}
}

/**
 * Inside an item, ArrowRight and ArrowLeft step through its controls; ArrowLeft from the first
 * goes back to the item itself (-1), ArrowRight stops at the last.
 */
export function controlStep(key: string, at: number, count: number): number | null {
	if (key === "ArrowRight") return count === 0 ? null : Math.min(count - 1, at + 1);
	if (key === "ArrowLeft") return at - 1;
	return null;
}
