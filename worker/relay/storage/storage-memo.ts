/**
 * A value derived from one object's storage, kept in memory until a write drops it. The
 * object is the only writer of its storage, and every write to the tables behind a memo goes
 * through the module that owns the memo, so the copy is exact. Keyed by the SqlStorage, so
 * an object restarted after eviction (or a failed write, which resets it) reads storage again.
 */
export interface StorageMemo<T> {
	get(sql: SqlStorage, load: () => T): T;
	/** The value if it is in memory, without loading it. */
	peek(sql: SqlStorage): T | undefined;
	/** Change the value in place if it is in memory; otherwise the next get loads it. */
	update(sql: SqlStorage, change: (value: T) => T): void;
	drop(sql: SqlStorage): void;
}

export function storageMemo<T>(): StorageMemo<T> {
	const values = new WeakMap<SqlStorage, { value: T }>();
	return {
		get(sql, load) {
			const held = values.get(sql);
			if (held) return held.value;
			const value = load();
			values.set(sql, { value });
			return value;
		},
		peek(sql) {
			return values.get(sql)?.value;
		},
		update(sql, change) {
			const held = values.get(sql);
			if (held) held.value = change(held.value);
		},
		drop(sql) {
			values.delete(sql);
		},
	};
}
