/**
 * The SQL statements an object runs while `work` runs, by text: for tests that prove a step
 * is served from memory and reads or writes no row.
 */
export async function statementsDuring<T>(sql: SqlStorage, work: () => T | Promise<T>): Promise<{ value: T; statements: string[] }> {
	const statements: string[] = [];
	const exec = sql.exec;
	sql.exec = ((query: string, ...bindings: unknown[]) => {
		statements.push(query);
		return exec.call(sql, query, ...bindings);
	}) as typeof sql.exec;
	try {
		return { value: await work(), statements };
	} finally {
		sql.exec = exec;
	}
}
