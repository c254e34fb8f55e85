/**
 * What a request's client address is counted as by the limits per address
 * (worker/address-limits.ts). Cloudflare sets `CF-Connecting-IP` on every request it forwards
 * and overwrites one a client sent, so in production it is the address the connection came
 * from; without Cloudflare in front (`wrangler dev`, the tests) it may be absent or whatever
 * the caller put there.
 */

/** The one bucket of requests that carry no address: a local run without Cloudflare in front. */
export const LOCAL_ADDRESS = "local";

/** A key longer than any address is cut here: only a caller without Cloudflare in front can send one. */
const MAX_KEY_CHARS = 64;

/**
 * The bucket key of an address. An IPv4 address is its own key. An IPv6 address counts by its
 * /64: one home connection or phone is usually given a whole /64, so counting single addresses
 * would hand whoever holds one 2^64 fresh buckets. An IPv4 address written as IPv6
 * (`::ffff:192.0.2.1`) counts as that IPv4 address. Anything else (only possible without
 * Cloudflare in front) is its own key, cut to 64 characters.
 */
export function addressKey(header: string | null): string {
	const text = header?.trim() ?? "";
	if (text === "") return LOCAL_ADDRESS;
	if (ipv4Octets(text)) return text;
	const groups = text.includes(":") ? ipv6Groups(text) : null;
	if (!groups) return text.slice(0, MAX_KEY_CHARS);
	if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
		const [high, low] = [groups[6] as number, groups[7] as number];
		return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
	}
	return `${groups
		.slice(0, 4)
		.map((g) => g.toString(16))
		.join(":")}::/64`;
}

/** The four octets of a dotted IPv4 address, or null if `text` is not one. */
function ipv4Octets(text: string): number[] | null {
	const parts = text.split(".");
	if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
	const octets = parts.map(Number);
	return octets.every((o) => o <= 255) ? octets : null;
}

const HEXTET = /^[0-9a-f]{1,4}$/i;

/** The eight 16-bit groups of an IPv6 address (`::` expanded, an IPv4 tail as two groups, a zone dropped), or null. */
function ipv6Groups(text: string): number[] | null {
	let rest = text.split("%", 1)[0] as string;
	let tail: number[] = [];
	const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(rest);
	if (dotted) {
		const octets = ipv4Octets(dotted[1] as string);
		if (!octets) return null;
		const [a, b, c, d] = octets as [number, number, number, number];
		tail = [(a << 8) | b, (c << 8) | d];
		// Keep a "::" that ends right before the IPv4 part; drop the single ":" that separates it.
		rest = rest.slice(0, rest.length - (dotted[1] as string).length);
		if (!rest.endsWith("::")) rest = rest.slice(0, -1);
	}
	const halves = rest.split("::");
	if (halves.length > 2) return null;
	const split = (s: string | undefined): string[] => (s ? s.split(":") : []);
	const front = split(halves[0]);
	const back = split(halves[1]);
	if (![...front, ...back].every((g) => HEXTET.test(g))) return null;
	const given = front.length + back.length + tail.length;
	const compressed = halves.length === 2;
	if (compressed ? given > 7 : given !== 8) return null;
	const hex = (g: string) => Number.parseInt(g, 16);
	return [...front.map(hex), ...new Array<number>(compressed ? 8 - given : 0).fill(0), ...back.map(hex), ...tail];
}
