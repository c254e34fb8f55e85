/** Index of the first number above `value` in rising numbers (binary search): how many are at or below it. */
export function firstAbove(numbers: readonly number[], value: number): number {
	let lo = 0;
	let hi = numbers.length;
	while (lo < hi) {
		const mid = (lo + hi) >>> 1;
		if ((numbers[mid] as number) <= value) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}
