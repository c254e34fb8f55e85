import { describe, expect, it } from "vitest";
import { PeerStubs } from "../../worker/relay/peer-stubs.ts";

/** A stand-in with the shape of an RPC stub: async methods, one of which can fail. */
function stubFor(accountId: string, made: string[]) {
	made.push(accountId);
	return {
		accountId,
		async hello(): Promise<string> {
			return `hello from ${accountId}`;
		},
		async broken(): Promise<never> {
			throw new Error("the callee's connection broke");
		},
		thrownAtCall(): never {
			throw new Error("refused before any promise");
		},
	};
}

describe("kept peer stubs", () => {
	it("makes one stub per account and hands it out again", async () => {
		const made: string[] = [];
		const stubs = new PeerStubs((id) => stubFor(id, made));
		const first = stubs.get("bob");
		expect(stubs.get("bob")).toBe(first);
		expect(await first.hello()).toBe("hello from bob");
		stubs.get("carol");
		expect(made).toEqual(["bob", "carol"]);
	});

	it("forgets a stub once a call through it rejects or throws, so the next call gets a new one", async () => {
		const made: string[] = [];
		const stubs = new PeerStubs((id) => stubFor(id, made));
		const first = stubs.get("bob");
		await expect(first.broken()).rejects.toThrow("connection broke");
		const second = stubs.get("bob");
		expect(second).not.toBe(first);
		expect(() => second.thrownAtCall()).toThrow("refused before any promise");
		const third = stubs.get("bob");
		expect(third).not.toBe(second);
		expect(await third.hello()).toBe("hello from bob");
		expect(made).toEqual(["bob", "bob", "bob"]);
		// A late failure through an old stub does not drop the new one.
		await expect(first.broken()).rejects.toThrow();
		expect(stubs.get("bob")).toBe(third);
	});

	it("keeps at most its limit, dropping the least recently used", () => {
		const made: string[] = [];
		const stubs = new PeerStubs((id) => stubFor(id, made), 2);
		const a = stubs.get("a");
		stubs.get("b");
		expect(stubs.get("a")).toBe(a);
		stubs.get("c");
		expect(stubs.size).toBe(2);
		// "b" was used least recently: it went, "a" stayed.
		expect(stubs.get("a")).toBe(a);
		stubs.get("b");
		expect(made).toEqual(["a", "b", "c", "b"]);
	});

	it("is never taken for a promise itself", async () => {
		const stubs = new PeerStubs((id) => stubFor(id, []));
		const stub = stubs.get("bob");
		expect((stub as { then?: unknown }).then).toBeUndefined();
		expect(await Promise.resolve(stub)).toBe(stub);
	});
});
