/**
 * Security headers for everything the worker serves (issue 5). Pages get a CSP without
 * inline scripts or third-party origins; the widget page may be framed only by the host
 * origins of WIDGET_ALLOWED_ORIGINS, every other page by nobody.
 */

/** The page the widget loader frames, and the script host pages load. */
export const WIDGET_PAGE_PATHS = new Set(["/widget.html", "/widget"]);
export const WIDGET_LOADER_PATH = "/widget.js";

/**
 * Used when WIDGET_ALLOWED_ORIGINS is unset in a development or test run, so a host page on
 * any local port can embed the widget without configuration. Production has no default:
 * without the variable no site may frame the widget.
 */
export const LOCAL_WIDGET_HOSTS = ["http://localhost:*", "http://127.0.0.1:*"];

// A CSP host-source: scheme, host (optionally a leading `*.` label), optional port or `*`.
// Anything else (keywords, paths, quotes, `;`) could change the policy's meaning, so it is dropped.
const HOST_SOURCE = /^https?:\/\/(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:(\d{1,5}|\*))?$/;

export interface WidgetHostConfig {
	WIDGET_ALLOWED_ORIGINS?: string;
	ENVIRONMENT?: string;
}

/** The host origins allowed to frame the widget, as CSP sources; empty means none. */
export function widgetAllowedOrigins(env: WidgetHostConfig): string[] {
	const raw = env.WIDGET_ALLOWED_ORIGINS;
	if (raw === undefined || raw.trim() === "") {
		return env.ENVIRONMENT === "development" || env.ENVIRONMENT === "test" ? LOCAL_WIDGET_HOSTS : [];
	}
	const origins = raw
		.split(/\s+/)
		.filter(Boolean)
		.map((origin) => origin.toLowerCase().replace(/\/+$/, ""));
	const valid = origins.filter((origin) => HOST_SOURCE.test(origin));
	if (valid.length !== origins.length) {
		console.error(
			JSON.stringify({ event: "config_error", problem: "WIDGET_ALLOWED_ORIGINS has entries that are not origins; they are ignored" }),
		);
	}
	return valid;
}

function contentSecurityPolicy(url: URL, frameAncestors: string): string {
	const socketOrigin = `${url.protocol === "https:" ? "wss:" : "ws:"}//${url.host}`;
	return [
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob:",
		"font-src 'self'",
		"manifest-src 'self'",
		`connect-src 'self' ${socketOrigin}`,
		"base-uri 'none'",
		"form-action 'none'",
		"object-src 'none'",
		`frame-ancestors ${frameAncestors}`,
	].join("; ");
}

/**
 * The response with security headers added. API responses get the headers that make sense
 * for JSON; an upgraded WebSocket (101) is returned as is, since it cannot be re-wrapped.
 */
export function withSecurityHeaders(request: Request, response: Response, env: WidgetHostConfig): Response {
	if (response.status === 101 || response.webSocket) return response;
	const url = new URL(request.url);
	const secured = new Response(response.body, response);
	const headers = secured.headers;
	headers.set("X-Content-Type-Options", "nosniff");
	headers.set("Referrer-Policy", "no-referrer");
	// Once a browser has reached the relay over HTTPS it never again tries plain HTTP, where a
	// network attacker could serve a different app (two years, the preload list's minimum).
	// Browsers ignore the header over HTTP, so local development is unaffected.
	if (url.protocol === "https:") headers.set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");

	if (url.pathname.startsWith("/api/")) {
		headers.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
		return secured;
	}
	if (WIDGET_PAGE_PATHS.has(url.pathname)) {
		const allowed = widgetAllowedOrigins(env);
		headers.set("Content-Security-Policy", contentSecurityPolicy(url, allowed.length > 0 ? allowed.join(" ") : "'none'"));
		// Framed by other sites, so no X-Frame-Options (it cannot name several origins).
		headers.set("Cross-Origin-Resource-Policy", "cross-origin");
		return secured;
	}
	if (url.pathname === WIDGET_LOADER_PATH) {
		headers.set("Content-Security-Policy", contentSecurityPolicy(url, "'none'"));
		// Loaded by host pages of other origins with a plain <script> tag.
		headers.set("Cross-Origin-Resource-Policy", "cross-origin");
		return secured;
	}
	headers.set("Content-Security-Policy", contentSecurityPolicy(url, "'none'"));
	headers.set("X-Frame-Options", "DENY");
	headers.set("Cross-Origin-Opener-Policy", "same-origin");
	headers.set("Cross-Origin-Resource-Policy", "same-origin");
	return secured;
}
