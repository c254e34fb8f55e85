import { describe, expect, it, vi } from "vitest";
import { Account } from "../../client/app/features/account.ts";
import { Contacts } from "../../client/app/features/contacts.ts";
import { Conversations } from "../../client/app/features/conversations.ts";
import { DeviceLifecycle, phaseAfterRefusal, phaseWhenClosed } from "../../client/app/features/device-lifecycle.ts";
import { Devices } from "../../client/app/features/devices.ts";
import { Notices } from "../../client/app/features/notices.ts";
import { SafetyNumbers } from "../../client/app/features/safety-numbers.ts";
import { type KeyValueStorage, StartUpCache } from "../../client/app/features/start-up-cache.ts";
import type { Phase } from "../../client/app/store.ts";
import type { DeviceIdentity } from "../../client/core/key-store.ts";
import type { AccountInfo } from "../../client/core/sdk.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import type { DeviceInfo } from "../../common/protocol/wire.ts";
import { ALICE, BOB, contactOf, deferred, MemoryHistory, relayId, settle, storeWith, trustOf } from "./client-fakes.ts";

const ME: AccountInfo = { accountId: ALICE, deviceId: relayId("alice_laptop"), handle: "alice" };
const myDevice = (status: DeviceInfo["status"]): DeviceInfo => ({
	deviceId: ME.deviceId,
	publicKey: "k",
	name: "laptop",
	status,
	createdAt: 1,
});
const CODE = "alice-K7Q2M9-XD4HTR-PW3CZ5-NB8E1A";

/** The keys of this device: `account` once it holds the account's identity key (a linked device gets it on approval). */
const identity = (account: boolean): DeviceIdentity => ({
	seed: new Uint8Array(32),
	publicKey: new Uint8Array(32).fill(7),
	accountId: ALICE,
	deviceId: ME.deviceId,
	handle: "alice",
	...(account
		? { account: { seed: new Uint8Array(32), publicKey: new Uint8Array(32).fill(9) } }
		: { link: { linkId: "l", macKey: new Uint8Array(32) } }),
});

/**
 * A device profile around a fake relay. `connect` and `contacts` answer as the test says;
 * every SDK call is recorded, in order, in `calls`.
 */
function device({
	me = ME as AccountInfo | null,
	connect = async () => {},
	contacts = async () => [contactOf(BOB, "accepted")],
	deviceStatus = async (): Promise<DeviceInfo["status"]> => "approved",
	linkWithCode = async (_code: string, _name: string): Promise<AccountInfo> => ME,
	restoreAccount = async (_handle: string, _words: string, _name: string): Promise<AccountInfo> => ME,
	storage = new Map<string, string>(),
	held = identity(true) as DeviceIdentity | null,
} = {}) {
	const store = storeWith();
	const calls: string[] = [];
	const record =
		<A extends unknown[], R>(name: string, answer: (...args: A) => R) =>
		(...args: A): R => {
			calls.push(name);
			return answer(...args);
		};
	const client = {
		whoami: vi.fn(record("whoami", async () => me)),
		register: vi.fn(record("register", async () => ME)),
		linkWithCode: vi.fn(record("linkWithCode", linkWithCode)),
		restoreAccount: vi.fn(record("restoreAccount", restoreAccount)),
		deviceStatus: vi.fn(record("deviceStatus", deviceStatus)),
		connect: vi.fn(record("connect", connect)),
		close: vi.fn(record("close", () => {})),
		revokeDevice: vi.fn(record("revokeDevice", async () => myDevice("revoked"))),
		deleteAccount: vi.fn(record("deleteAccount", async () => {})),
		resetIdentity: vi.fn(record("resetIdentity", async () => {})),
		contacts: vi.fn(record("contacts", contacts)),
		accountStatus: vi.fn(
			record("accountStatus", async () => ({ accountId: ALICE, handle: "alice", trust: "untrusted" as const, credits: 1, quotaLeft: 1 })),
		),
		devices: vi.fn(record("devices", async () => [{ ...myDevice("approved"), certified: true }])),
		limits: vi.fn(record("limits", () => new Promise<never>(() => {}))),
		creditHistory: vi.fn(),
		requestContact: vi.fn(),
		acceptContact: vi.fn(),
		declineContact: vi.fn(),
		setCallPermission: vi.fn(),
		blockContact: vi.fn(),
		unblockContact: vi.fn(),
		report: vi.fn(),
		checkLinkRequest: vi.fn(() => "not_here" as const),
		contactTrust: vi.fn(record("contactTrust", async (peerId: string) => trustOf(peerId, "unverified"))),
		setContactVerified: vi.fn(),
		acknowledgeIdentityChange: vi.fn(),
	};
	const kv: KeyValueStorage = {
		getItem: (key) => storage.get(key) ?? null,
		setItem: (key, value) => storage.set(key, value),
		removeItem: (key) => storage.delete(key),
	};
	const keys = {
		destroyed: false,
		held,
		getIdentity: async () => keys.held,
		async destroy() {
			keys.destroyed = true;
		},
	};
	const history = new MemoryHistory();
	const cache = new StartUpCache("sm-test", () => kv);
	cache.followContacts(store);
	const notices = new Notices(store);
	let erased = 0;
	const lifecycle = new DeviceLifecycle(
		store,
		client,
		keys,
		history,
		cache,
		notices,
		new Account(store, client, notices),
		new Contacts(store, client, notices),
		new Devices(store, client, notices),
		new Conversations(store, history, () => true),
		new SafetyNumbers(store, client, notices),
		() => erased++,
	);
	const phases: Phase[] = [store.state.phase];
	store.subscribe((state) => {
		if (phases.at(-1) !== state.phase) phases.push(state.phase);
	});
	return { store, client, calls, keys, history, storage, lifecycle, phases, erased: () => erased };
}

describe("the device's lifecycle", () => {
	it("welcomes a profile without an account, and connects nothing", async () => {
		const app = device({ me: null });
		await app.lifecycle.start();
		expect(app.store.state.phase).toBe("welcome");
		expect(app.calls).toEqual(["limits", "whoami"]);
	});

	it("starts an approved device: it connects, loads its contacts, then its account, devices and contacts' trust, and remembers it was approved", async () => {
		const app = device();
		await app.lifecycle.start();
		await settle();
		expect(app.calls).toEqual(["limits", "whoami", "connect", "contacts", "accountStatus", "devices", "contactTrust"]);
		expect(app.store.state.trust).toEqual({ [BOB]: trustOf(BOB, "unverified") });
		expect(app.phases).toEqual(["loading", "ready"]);
		expect(app.store.state).toMatchObject({ me: ME, connection: "connecting", contacts: [contactOf(BOB, "accepted")] });
		expect(app.storage.get("sm-test:approved")).toBe("1");
		expect(JSON.parse(app.storage.get("sm-test:contacts") ?? "null")).toEqual({ contacts: [contactOf(BOB, "accepted")] });
	});

	it("shows a device known to be approved, with its cached contacts, before the connection is up", async () => {
		const storage = new Map([
			["sm-test:approved", "1"],
			["sm-test:contacts", JSON.stringify({ contacts: [contactOf(BOB, "accepted")] })],
		]);
		const connecting = deferred<void>();
		const app = device({ storage, connect: () => connecting.promise });
		const starting = app.lifecycle.start();
		await vi.waitFor(() => expect(app.client.connect).toHaveBeenCalled());
		expect(app.store.state).toMatchObject({ phase: "ready", contacts: [contactOf(BOB, "accepted")] });
		connecting.resolve();
		await starting;
	});

	it("marks failed the sends that were waiting when the page went away, since nobody will confirm them now", async () => {
		const app = device();
		await app.history.put({ key: "local:1", peerId: BOB, outgoing: true, text: "lost", at: 1, state: "sending", pending: 1 });
		await app.lifecycle.start();
		expect(app.history.messages.get("local:1")).toMatchObject({
			state: "failed",
			error: "The relay never confirmed this message. It may not have been sent.",
		});
	});

	it("links with a code, waits for approval, and opens the account once approved and holding the identity key", async () => {
		let status: DeviceInfo["status"] = "pending";
		const app = device({
			held: null,
			deviceStatus: async () => status,
			linkWithCode: async () => {
				app.keys.held = identity(false);
				return ME;
			},
		});
		await app.lifecycle.link(CODE, "tablet");
		expect(app.client.linkWithCode).toHaveBeenCalledWith(CODE, "tablet");
		expect(app.store.state).toMatchObject({ phase: "pending", me: ME, fingerprint: expect.stringMatching(/^\d{5} \d{5} \d{5} \d{5}$/) });
		// Pending: the relay would refuse the contact list, so it is not asked for.
		expect(app.calls).toEqual(["linkWithCode", "connect", "deviceStatus"]);

		// The SDK finishes linking on the approval frame before it tells the app.
		status = "approved";
		app.keys.held = identity(true);
		expect(app.lifecycle.ownDeviceChanged("approved", myDevice("approved"))).toBe(true);
		await vi.waitFor(() => expect(app.store.state.phase).toBe("ready"));
		expect(app.phases).toEqual(["loading", "pending", "ready"]);
		expect(app.calls.slice(3, 5)).toEqual(["contacts", "accountStatus"]);
	});

	it("checks again on a reconnect whether a waiting device was approved meanwhile, and only then", async () => {
		let status: DeviceInfo["status"] = "pending";
		const app = device({ held: identity(false), deviceStatus: async () => status });
		await app.lifecycle.start();
		expect(app.store.state.phase).toBe("pending");
		status = "approved";
		app.keys.held = identity(true);
		app.lifecycle.reconnected();
		await vi.waitFor(() => expect(app.store.state.phase).toBe("ready"));
		// Approved now: reconnects are the contact list's business (Contacts.reconnected).
		const loads = app.client.contacts.mock.calls.length;
		app.lifecycle.reconnected();
		await settle();
		expect(app.client.contacts.mock.calls.length).toBe(loads);
	});

	it("opens a linked device approved while its page was closed: deviceStatus finishes the linking first", async () => {
		const app = device({
			held: identity(false),
			deviceStatus: async () => {
				app.keys.held = identity(true);
				return "approved";
			},
		});
		await app.lifecycle.start();
		expect(app.store.state.phase).toBe("ready");
		expect(app.calls.slice(0, 5)).toEqual(["limits", "whoami", "connect", "deviceStatus", "contacts"]);
	});

	it("keeps a linked device waiting, and says why, when its approval fails the SDK's checks", async () => {
		const app = device({
			held: identity(false),
			deviceStatus: async () => {
				throw new SdkError("untrusted", "The approval of this device was refused: the link confirmation does not match the code.", {
					reason: "link_approval",
				});
			},
		});
		await app.lifecycle.start();
		expect(app.store.state.phase).toBe("pending");
		expect(app.calls).not.toContain("contacts");
		expect(app.store.state.notices.map((n) => n.text)).toEqual([
			"The approval of this device failed a security check, so it did not take the account's keys. Remove it on your other device and link it again.",
		]);
	});

	it("waits for approval when the relay says the device is pending, and settles once its approval comes", async () => {
		let pending = true;
		const app = device({
			contacts: async () => {
				if (pending) throw new SdkError("device_pending", "wait");
				return [];
			},
		});
		await app.lifecycle.start();
		expect(app.store.state.phase).toBe("pending");
		pending = false;
		expect(app.lifecycle.ownDeviceChanged("approved", myDevice("approved"))).toBe(true);
		await vi.waitFor(() => expect(app.store.state.phase).toBe("ready"));
		expect(app.phases).toEqual(["loading", "pending", "ready"]);
	});

	it("leaves events about other devices to the device list", () => {
		const app = device();
		const other: DeviceInfo = { ...myDevice("pending"), deviceId: relayId("phone") };
		app.store.update({ me: ME, phase: "ready" });
		expect(app.lifecycle.ownDeviceChanged("pending", other)).toBe(false);
		expect(app.lifecycle.ownDeviceChanged("approved", myDevice("approved"))).toBe(false);
	});

	it("erases a device revoked while it connects: keys, history and start-up cache go, and it shows as removed", async () => {
		const app = device({
			connect: async () => {
				throw new SdkError("device_revoked", "revoked");
			},
		});
		app.storage.set("sm-test:approved", "1");
		await app.lifecycle.start();
		await settle();
		expect(app.store.state).toMatchObject({ phase: "removed", connection: "offline" });
		expect(app.keys.destroyed).toBe(true);
		expect(app.history.destroyed).toBe(true);
		expect(app.storage.size).toBe(0);
		expect(app.calls.at(-1)).toBe("close");
	});

	it("shows a device the relay no longer knows as removed, but keeps its data: a misconfigured server must not wipe devices", async () => {
		const app = device({
			connect: async () => {
				throw new SdkError("unauthorized", "who?");
			},
		});
		await app.lifecycle.start();
		expect(app.store.state.phase).toBe("removed");
		expect(app.keys.destroyed).toBe(false);
		expect(app.history.destroyed).toBe(false);
		expect(app.calls).not.toContain("close");
	});

	it("shows the tab as replaced when another tab takes the connection, and takes it back on request", async () => {
		const app = device({
			connect: async () => {
				throw new SdkError("closed", "replaced");
			},
		});
		await app.lifecycle.start();
		expect(app.store.state).toMatchObject({ phase: "replaced", connection: "offline" });
		app.client.connect.mockImplementation(async () => {});
		await app.lifecycle.useHere();
		expect(app.phases).toEqual(["loading", "replaced", "loading", "ready"]);
	});

	it("shows a closed connection as another tab's, unless the device was removed", () => {
		const app = device();
		app.store.update({ phase: "ready", connection: "online" });
		app.lifecycle.failed(new SdkError("closed", "replaced"));
		expect(app.store.state).toMatchObject({ phase: "replaced", connection: "offline" });
		expect(phaseWhenClosed("removed")).toBe("removed");
	});

	it("shows an error that says nothing about the device as a notice, and stays where it is", async () => {
		const app = device({
			contacts: async () => {
				throw new SdkError("server_misconfigured", "no");
			},
		});
		await app.lifecycle.register("alice", "laptop");
		expect(app.store.state.phase).toBe("ready");
		expect(app.store.state.notices.map((n) => n.text)).toEqual(["The server is not set up correctly. Please tell its operator."]);
	});

	it("leaves its account when the user forgets the device, then erases it; a removed device only erases", async () => {
		const app = device();
		app.store.update({ me: ME, phase: "ready" });
		await app.lifecycle.forget();
		expect(app.calls).toEqual(["revokeDevice", "close"]);
		expect(app.keys.destroyed).toBe(true);
		const removed = device();
		removed.store.update({ me: ME, phase: "removed" });
		await removed.lifecycle.forget();
		expect(removed.calls).toEqual(["close"]);
	});

	it("signs out by leaving its account first, then erasing; a refusal keeps the keys, a device removed already just erases", async () => {
		const app = device();
		app.store.update({ me: ME, phase: "ready" });
		await app.lifecycle.signOut();
		expect(app.calls).toEqual(["revokeDevice", "close"]);
		expect(app.keys.destroyed).toBe(true);
		// Told after the keys went, once (the web app then drops the browser's push subscription).
		expect(app.erased()).toBe(1);

		const offline = device();
		offline.store.update({ me: ME, phase: "ready" });
		offline.client.revokeDevice.mockRejectedValueOnce(new SdkError("unavailable", "The relay is not reachable."));
		await expect(offline.lifecycle.signOut()).rejects.toMatchObject({ code: "unavailable" });
		expect(offline.keys.destroyed).toBe(false);
		expect(offline.erased()).toBe(0);
		expect(offline.calls).not.toContain("close");

		const gone = device();
		gone.store.update({ me: ME, phase: "ready" });
		gone.client.revokeDevice.mockRejectedValueOnce(new SdkError("device_revoked", "This device was removed from its account."));
		await gone.lifecycle.signOut();
		expect(gone.keys.destroyed).toBe(true);
	});

	it("restores an account with its recovery key: an approved device at once, connected, with its contacts", async () => {
		const app = device({
			held: null,
			restoreAccount: async () => {
				app.keys.held = identity(true);
				return ME;
			},
		});
		const told: Phase[] = [];
		expect(await app.lifecycle.restore("alice", "twelve words", "new laptop", () => told.push(app.store.state.phase))).toEqual(ME);
		// Told before the app opened.
		expect(told).toEqual(["loading"]);
		expect(app.client.restoreAccount).toHaveBeenCalledWith("alice", "twelve words", "new laptop");
		expect(app.phases).toEqual(["loading", "ready"]);
		expect(app.store.state).toMatchObject({ me: ME, fingerprint: expect.stringMatching(/^\d{5} \d{5} \d{5} \d{5}$/) });
		// Approved from the start: no waiting for another device.
		expect(app.calls.slice(0, 3)).toEqual(["restoreAccount", "connect", "contacts"]);
		expect(app.storage.get("sm-test:approved")).toBe("1");
	});

	it("leaves nothing behind when a restore fails: keys the SDK kept are deleted, the welcome screen stays", async () => {
		const wrong = device({
			held: null,
			restoreAccount: async () => {
				throw new SdkError("unauthorized", "The recovery key does not match this account.");
			},
		});
		await expect(wrong.lifecycle.restore("alice", "words", "laptop")).rejects.toMatchObject({ code: "unauthorized" });
		expect(wrong.keys.destroyed).toBe(false);
		expect(wrong.store.state.phase).toBe("loading");
		expect(wrong.calls).toEqual(["restoreAccount"]);

		const halfway = device({
			held: null,
			restoreAccount: async () => {
				halfway.keys.held = identity(true);
				throw new SdkError("untrusted", "The restore was refused: the relay's device list…", { reason: "device_list" });
			},
		});
		await expect(halfway.lifecycle.restore("alice", "words", "laptop")).rejects.toMatchObject({ code: "untrusted" });
		expect(halfway.keys.destroyed).toBe(true);
		expect(halfway.store.state.me).toBeNull();
	});

	it("never deletes keys that were in the profile before the restore (another tab's device)", async () => {
		const app = device({
			restoreAccount: async () => {
				throw new SdkError("conflict", "This store already holds a device identity.");
			},
		});
		await expect(app.lifecycle.restore("alice", "words", "laptop")).rejects.toMatchObject({ code: "conflict" });
		expect(app.keys.destroyed).toBe(false);
	});

	it("reads what each refusal says about the device", () => {
		expect(phaseAfterRefusal("device_pending", false)).toEqual({ phase: "pending", erase: false });
		expect(phaseAfterRefusal("device_revoked", false)).toEqual({ phase: "removed", erase: true });
		expect(phaseAfterRefusal("unauthorized", true)).toEqual({ phase: "removed", erase: false });
		expect(phaseAfterRefusal("closed", true)).toEqual({ phase: "replaced", erase: false });
		expect(phaseAfterRefusal("closed", false)).toBeNull();
		expect(phaseAfterRefusal("internal", true)).toBeNull();
	});
});
