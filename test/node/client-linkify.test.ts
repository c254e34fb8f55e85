import { describe, expect, it } from "vitest";
import { linkify, MAX_LINKS, type TextPart } from "../../client/app/linkify.ts";

const text = (t: string): TextPart => ({ kind: "text", text: t });
const link = (t: string, href = t): TextPart => ({ kind: "link", text: t, href });
const joined = (parts: TextPart[]) => parts.map((p) => p.text).join("");
const links = (parts: TextPart[]) => parts.filter((p) => p.kind === "link");

describe("links in a message's text", () => {
	it("makes http and https addresses links, in their place, and leaves the rest as text", () => {
		expect(linkify("see https://a.example/x?q=1#top and http://b.example/ too")).toEqual([
			text("see "),
			link("https://a.example/x?q=1#top"),
			text(" and "),
			link("http://b.example/"),
			text(" too"),
		]);
		expect(linkify("https://a.example/x")).toEqual([link("https://a.example/x")]);
		expect(linkify("no address here")).toEqual([text("no address here")]);
		expect(linkify("")).toEqual([]);
	});

	it("shows the address as written, and links the URL the parser makes of it", () => {
		expect(linkify("HTTPS://A.Example/Path")).toEqual([link("HTTPS://A.Example/Path", "https://a.example/Path")]);
		expect(linkify("https://bücher.example/ä")).toEqual([link("https://bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4")]);
	});

	it("ends an address before the punctuation of the sentence and an unbalanced closing bracket", () => {
		expect(linkify("Look: https://a.example/x).")).toEqual([text("Look: "), link("https://a.example/x"), text(").")]);
		expect(linkify("(https://a.example/x)")).toEqual([text("("), link("https://a.example/x"), text(")")]);
		expect(linkify("Go to https://a.example/x, https://b.example/y! Or https://c.example/z?")).toEqual([
			text("Go to "),
			link("https://a.example/x"),
			text(", "),
			link("https://b.example/y"),
			text("! Or "),
			link("https://c.example/z"),
			text("?"),
		]);
		expect(linkify("'https://a.example/x';")).toEqual([text("'"), link("https://a.example/x"), text("';")]);
		// Brackets the address opened itself are its own.
		expect(linkify("https://en.example/wiki/Foo_(bar).")).toEqual([link("https://en.example/wiki/Foo_(bar)"), text(".")]);
		expect(linkify("[https://a.example/x[1]]")).toEqual([text("["), link("https://a.example/x[1]"), text("]")]);
	});

	it("never links another scheme, or an address inside a word", () => {
		for (const hostile of [
			"javascript:alert(1)",
			"JaVaScRiPt:alert(document.cookie)",
			"data:text/html,<script>alert(1)</script>",
			"file:///etc/passwd",
			"vbscript:msgbox(1)",
			"ftp://a.example/x",
			"mailto:someone@a.example",
			"www.a.example",
			"xhttps://a.example/x",
			"https://",
			"https:// a.example",
			"http:a.example",
		]) {
			expect(links(linkify(hostile)), hostile).toEqual([]);
			expect(linkify(hostile)).toEqual([text(hostile)]);
		}
		// What follows a scheme's name is only ever linked as an http(s) URL of its own.
		expect(links(linkify("javascript://https://a.example/x"))).toEqual([link("https://a.example/x")]);
	});

	it("keeps markup as text: an address ends before a quote or an angle bracket", () => {
		const html = `<a href="javascript:alert(1)">https://a.example/x</a><img src=x onerror=alert(1)>`;
		const parts = linkify(html);
		expect(parts).toEqual([text(`<a href="javascript:alert(1)">`), link("https://a.example/x"), text(`</a><img src=x onerror=alert(1)>`)]);
		expect(joined(parts)).toBe(html);
		expect(linkify(`https://a.example/"onmouseover="alert(1)`)).toEqual([link("https://a.example/"), text(`"onmouseover="alert(1)`)]);
	});

	it("ends an address at a control or invisible formatting character, so it cannot read as another", () => {
		// A right-to-left override would make "…/\u202Egpj.exe" read as "…/exe.jpg".
		expect(linkify("https://a.example/\u202Egpj.exe")).toEqual([link("https://a.example/"), text("\u202Egpj.exe")]);
		expect(linkify("https://a.example/x\u200Bhidden")).toEqual([link("https://a.example/x"), text("\u200Bhidden")]);
		expect(linkify("https://a.example/x\nnext line")).toEqual([link("https://a.example/x"), text("\nnext line")]);
	});

	it("does bounded work on a huge text: linear scanning, and at most MAX_LINKS links", () => {
		const many = "https://a.example/x ".repeat(50_000);
		let started = performance.now();
		const parts = linkify(many);
		expect(links(parts)).toHaveLength(MAX_LINKS);
		expect(joined(parts)).toBe(many);
		// Link, space, link, … and after the last link the rest is one text part.
		expect(parts).toHaveLength(2 * MAX_LINKS);
		expect(parts.at(-1)).toEqual(text(many.slice(MAX_LINKS * "https://a.example/x ".length - 1)));

		// Texts that would make a backtracking pattern slow: one endless address, endless brackets,
		// an endless run of scheme-like starts, punctuation after a very long address.
		for (const huge of [
			`https://a.example/${"a".repeat(1_000_000)}`,
			`https://a.example/${")".repeat(200_000)}`,
			`https://a.example/${"(".repeat(200_000)}`,
			"http".repeat(250_000),
			"https:/".repeat(150_000),
			`https://a.example/${"x".repeat(500_000)}${".".repeat(500_000)}`,
		]) {
			started = performance.now();
			const result = linkify(huge);
			expect(joined(result)).toBe(huge);
			expect(performance.now() - started, huge.slice(0, 30)).toBeLessThan(2000);
		}
		expect(linkify(`https://a.example/${")".repeat(200_000)}`)).toEqual([link("https://a.example/"), text(")".repeat(200_000))]);
	});
});
