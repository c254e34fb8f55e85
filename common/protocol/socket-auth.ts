/**
 * How a WebSocket upgrade says who is asking. Browsers cannot set headers on an upgrade, and
 * a token in the URL ends up in edge, proxy and browser-history logs; the one header a page
 * may set is Sec-WebSocket-Protocol, so the token travels there, beside the protocol name the
 * relay answers with (a client that offers protocols must be answered with one of them).
 */
export const SOCKET_PROTOCOL = "secure-messaging.v2";
const TOKEN_PREFIX = "bearer.";

/** The subprotocols a client offers: ours, and its session token. */
export function socketProtocols(token: string): string[] {
	return [SOCKET_PROTOCOL, `${TOKEN_PREFIX}${token}`];
}

/**
 * The session token from an upgrade's Sec-WebSocket-Protocol header, if the client offered
 * our protocol and a token beside it; undefined otherwise.
 */
export function tokenFromProtocols(header: string | null): string | undefined {
	if (!header) return undefined;
	const offered = header.split(",").map((p) => p.trim());
	if (!offered.includes(SOCKET_PROTOCOL)) return undefined;
	const tokens = offered.filter((p) => p.startsWith(TOKEN_PREFIX));
	return tokens.length === 1 ? tokens[0]?.slice(TOKEN_PREFIX.length) : undefined;
}
