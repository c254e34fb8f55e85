import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LOCAL_WIDGET_HOSTS, widgetAllowedOrigins, withSecurityHeaders } from "../../worker/security-headers.ts";
import { BASE as RELAY } from "./helpers.ts";

const BASE = "https://chat.example";

function secured(path: string, env: { WIDGET_ALLOWED_ORIGINS?: string; ENVIRONMENT?: string }, response = new Response("ok")): Headers {
	return withSecurityHeaders(new Request(`${BASE}${path}`), response, env).headers;
}

const frameAncestors = (headers: Headers): string | undefined =>
	/(?:^|; )frame-ancestors ([^;]*)/.exec(headers.get("content-security-policy") ?? "")?.[1];

describe("the host origins allowed to frame the widget", () => {
	it("keeps only scheme-and-host origins (a subdomain wildcard is one), dropping keywords, a bare *, paths and anything that could extend the policy", () => {
		const allowed = widgetAllowedOrigins({
			ENVIRONMENT: "production",
			WIDGET_ALLOWED_ORIGINS: [
				"https://shop.example",
				"'unsafe-inline'",
				"*",
				"https://*.blog.example",
				"https://paths.example/widget",
				"HTTP://LOCALHOST:8080/",
				"'self'",
				"https://x.example;script-src",
				"javascript:alert(1)",
				"data:",
				"ftp://files.example",
			].join(" "),
		});
		expect(allowed).toEqual(["https://shop.example", "https://*.blog.example", "http://localhost:8080"]);
	});

	it("allows no site in production when the variable is unset or empty", () => {
		expect(widgetAllowedOrigins({ ENVIRONMENT: "production" })).toEqual([]);
		expect(widgetAllowedOrigins({ ENVIRONMENT: "production", WIDGET_ALLOWED_ORIGINS: "  " })).toEqual([]);
		expect(widgetAllowedOrigins({})).toEqual([]);
		expect(frameAncestors(secured("/widget", { ENVIRONMENT: "production" }))).toBe("'none'");
	});

	it("allows only local hosts when unset in a development or test run", () => {
		expect(widgetAllowedOrigins({ ENVIRONMENT: "development" })).toEqual(LOCAL_WIDGET_HOSTS);
		expect(widgetAllowedOrigins({ ENVIRONMENT: "test" })).toEqual(LOCAL_WIDGET_HOSTS);
	});

	it("lets 'none' stand when every configured entry was dropped, rather than an empty frame-ancestors", () => {
		expect(frameAncestors(secured("/widget", { ENVIRONMENT: "production", WIDGET_ALLOWED_ORIGINS: "* 'unsafe-inline'" }))).toBe("'none'");
	});
});

describe("security headers", () => {
	const production = { ENVIRONMENT: "production", WIDGET_ALLOWED_ORIGINS: "https://shop.example https://*.blog.example" };

	it("lets only the allowed hosts frame the widget page, and nobody frame any other page", () => {
		for (const path of ["/widget", "/widget.html"]) {
			const headers = secured(path, production);
			expect(frameAncestors(headers), path).toBe("https://shop.example https://*.blog.example");
			expect(headers.get("x-frame-options"), path).toBeNull();
		}
		for (const path of ["/", "/index.html", "/app.js", "/styles.css", "/widget.js", "/no-such-page"]) {
			expect(frameAncestors(secured(path, production)), path).toBe("'none'");
		}
		expect(secured("/", production).get("x-frame-options")).toBe("DENY");
	});

	it("gives every page a CSP without inline scripts or other origins, nosniff and no referrer, also on a 404", () => {
		for (const path of ["/", "/widget", "/widget.js", "/favicon.svg", "/no-such-page"]) {
			const headers = secured(path, production, new Response("not found", { status: 404 }));
			const csp = headers.get("content-security-policy") ?? "";
			expect(csp, path).toContain("script-src 'self'");
			expect(csp, path).toContain("default-src 'none'");
			expect(csp, path).not.toContain("unsafe-inline");
			expect(csp, path).not.toContain("unsafe-eval");
			expect(csp, path).toContain("connect-src 'self' wss://chat.example;");
			expect(headers.get("x-content-type-options"), path).toBe("nosniff");
			expect(headers.get("referrer-policy"), path).toBe("no-referrer");
		}
	});

	it("gives API responses a policy that loads nothing and frames nowhere", () => {
		const headers = secured("/api/limits", production, Response.json({ ok: true }));
		expect(headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
		expect(headers.get("x-content-type-options")).toBe("nosniff");
	});

	it("tells browsers to use HTTPS only, on pages and API answers served over HTTPS, and not over plain HTTP", () => {
		for (const path of ["/", "/widget", "/api/limits"]) {
			expect(secured(path, {}).get("strict-transport-security")).toBe("max-age=63072000; includeSubDomains");
		}
		const overHttp = withSecurityHeaders(new Request("http://localhost:8787/"), new Response("ok"), {}).headers;
		expect(overHttp.get("strict-transport-security")).toBeNull();
	});

	it("keeps the status and body of the response it secures", async () => {
		const response = withSecurityHeaders(new Request(`${BASE}/gone`), new Response("not here", { status: 404 }), production);
		expect(response.status).toBe(404);
		expect(await response.text()).toBe("not here");
	});

	it("returns an upgraded WebSocket response as it is", () => {
		const pair = new WebSocketPair();
		const upgrade = new Response(null, { status: 101, webSocket: pair[1] });
		expect(withSecurityHeaders(new Request(`${BASE}/api/ws`), upgrade, production)).toBe(upgrade);
		pair[0].accept();
		pair[0].close();
	});

	it("is on what the worker serves: a 404 and a static asset included", async () => {
		for (const path of ["/no-such-page", "/styles.css"]) {
			const response = await exports.default.fetch(new Request(`${RELAY}${path}`));
			await response.arrayBuffer();
			expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
			expect(response.headers.get("content-security-policy"), path).toContain("frame-ancestors 'none'");
		}
	});
});
