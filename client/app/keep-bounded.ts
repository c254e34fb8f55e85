/** Set `key`, forgetting the oldest entry past `max` (a Map keeps insertion order). */
export function keepBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
	map.set(key, value);
	if (map.size <= max) return;
	const oldest = map.keys().next().value;
	if (oldest !== undefined) map.delete(oldest);
}
