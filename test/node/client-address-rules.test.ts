import { describe, expect, it } from "vitest";
import { addressKey, LOCAL_ADDRESS } from "../../worker/abuse/client-address.ts";
import { ADDRESS_LIMITERS } from "../../worker/address-limits.ts";
import { declaredRateLimits } from "../support/wrangler-config.ts";

describe("addressKey", () => {
	it("keys a request without CF-Connecting-IP (a local run) on one constant", () => {
		expect([addressKey(null), addressKey(""), addressKey("   ")]).toEqual([LOCAL_ADDRESS, LOCAL_ADDRESS, LOCAL_ADDRESS]);
	});

	it("keys an IPv4 address on itself", () => {
		expect(addressKey("198.51.100.7")).toBe("198.51.100.7");
		expect(addressKey(" 203.0.113.255 ")).toBe("203.0.113.255");
	});

	it("keys every IPv6 address of a /64 alike, however it is written, and different /64s apart", () => {
		const key = "2001:db8:1:2::/64";
		for (const address of [
			"2001:db8:1:2::1",
			"2001:0db8:0001:0002:ffff:ffff:ffff:ffff",
			"2001:DB8:1:2:a:b:c:d",
			"2001:db8:1:2::",
			"2001:db8:1:2:0:0:0:9%eth0",
			"2001:db8:1:2::192.0.2.1",
		]) {
			expect([address, addressKey(address)]).toEqual([address, key]);
		}
		expect(addressKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
		expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
		expect(addressKey("::1")).toBe("0:0:0:0::/64");
		expect(addressKey("::")).toBe("0:0:0:0::/64");
	});

	it("keys an IPv4 address written as IPv6 as that IPv4 address, in either notation", () => {
		expect(addressKey("::ffff:198.51.100.7")).toBe("198.51.100.7");
		expect(addressKey("::ffff:c633:6407")).toBe("198.51.100.7");
		expect(addressKey("0:0:0:0:0:ffff:198.51.100.7")).toBe("198.51.100.7");
	});

	it("keys anything else on its own text, cut to 64 characters", () => {
		for (const text of [
			"not an address",
			"1.2.3",
			"256.1.1.1",
			"1::2::3",
			"1:2:3:4:5:6:7:8:9",
			"gggg::1",
			"1.2.3.4:80",
			"::ffff:1.2.3.999",
		]) {
			expect([text, addressKey(text)]).toEqual([text, text]);
		}
		expect(addressKey("x".repeat(100))).toBe("x".repeat(64));
	});
});

describe("wrangler.toml's limits per client address", () => {
	it("declare a binding for every family the worker checks, each with a period the binding has and a namespace of its own", () => {
		const declared = declaredRateLimits();
		expect(declared.map((b) => b.name).sort()).toEqual(Object.values(ADDRESS_LIMITERS).sort());
		for (const b of declared) {
			expect([b.name, [10, 60].includes(b.simple.period), Number.isInteger(b.simple.limit) && b.simple.limit > 0]).toEqual([
				b.name,
				true,
				true,
			]);
			expect(b.namespace_id).toMatch(/^\d+$/);
		}
		expect(new Set(declared.map((b) => b.namespace_id)).size).toBe(declared.length);
	});

	it("default to 5 registrations, 60 sign-in requests, 10 link claims and 5 restores a minute", () => {
		const byName = Object.fromEntries(declaredRateLimits().map((b) => [b.name, b.simple]));
		expect(byName).toEqual({
			REGISTRATION_LIMITER: { limit: 5, period: 60 },
			SIGN_IN_LIMITER: { limit: 60, period: 60 },
			LINK_CLAIM_LIMITER: { limit: 10, period: 60 },
			RECOVERY_LIMITER: { limit: 5, period: 60 },
		});
	});
});
