/**
 * The SQL statements an object runs while `work` runs, by text: for tests that prove a step
 * is served from memory and reads or writes no row, and the rows they read.
 */
export async function statementsDuring<T>(
	sql: SqlStorage,
	work: () => T | Promise<T>,
): Promise<{ value: T; statements: string[]; rowsRead: number }> {
	const statements: string[] = [];
	const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
	const exec = sql.exec;
	sql.exec = ((query: string, ...bindings: unknown[]) => {
		statements.push(query);
		const cursor = exec.call(sql, query, ...bindings);
		cursors.push(cursor);
		return cursor;
	}) as typeof sql.exec;
	try {
		const value = await work();
		// What SQLite counted as read, as billed: a cursor's count is final once it was read through.
		return { value, statements, rowsRead: cursors.reduce((sum, c) => sum + c.rowsRead, 0) };
	} finally {
		sql.exec = exec;
	}
}
