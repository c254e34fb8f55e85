/** "7 s", "2 min 5 s", "3 h 10 min": a wait, rounded up to whole seconds. */
export function formatDuration(ms: number): string {
	const total = Math.max(1, Math.ceil(ms / 1000));
	const hours = Math.floor(total / 3600);
	const minutes = Math.floor((total % 3600) / 60);
	const seconds = total % 60;
	if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
	if (minutes > 0) return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
	return `${seconds} s`;
}

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

const sameDay = (a: Date, b: Date): boolean =>
	a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/** "14:05" today, "12 Mar 2026, 14:05" otherwise. */
export function formatWhen(at: number, now = Date.now()): string {
	const date = new Date(at);
	return sameDay(date, new Date(now)) ? `at ${timeOnly.format(date)}` : `on ${dateAndTime.format(date)}`;
}

/** When a message waiting for the send window goes: "in 8 s" within a minute, "at 14:32" or "on 3 Dec 2026, 09:10" after. */
export function formatSendsAt(at: number, now: number): string {
	return at - now < 60_000 ? `in ${formatDuration(at - now)}` : formatWhen(at, now);
}

/** The time of a message, for the chat view. */
export function formatTime(at: number): string {
	const date = new Date(at);
	return sameDay(date, new Date()) ? timeOnly.format(date) : dateAndTime.format(date);
}

const dayAndMonth = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const shortDate = new Intl.DateTimeFormat(undefined, { dateStyle: "short" });

/** The time of a last message or a search result, where room is short: "14:05" today, "12 Mar" this year, "12/03/2025" before. */
export function formatShortTime(at: number, now = Date.now()): string {
	const date = new Date(at);
	const today = new Date(now);
	if (sameDay(date, today)) return timeOnly.format(date);
	return date.getFullYear() === today.getFullYear() ? dayAndMonth.format(date) : shortDate.format(date);
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
