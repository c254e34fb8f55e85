import { describe, expect, it, vi } from "vitest";
import { Account } from "../../client/app/features/account.ts";
import { Contacts } from "../../client/app/features/contacts.ts";
import { Conversations } from "../../client/app/features/conversations.ts";
import { DeviceLifecycle, phaseAfterRefusal, phaseWhenClosed } from "../../client/app/features/device-lifecycle.ts";
import { Devices } from "../../client/app/features/devices.ts";
import { Notices } from "../../client/app/features/notices.ts";
import { type KeyValueStorage, StartUpCache } from "../../client/app/features/start-up-cache.ts";
import type { Phase } from "../../client/app/store.ts";
import type { AccountInfo } from "../../client/core/sdk.ts";
import { SdkError } from "../../client/core/sdk-error.ts";
import type { DeviceInfo } from "../../common/protocol/wire.ts";
import { ALICE, BOB, contactOf, deferred, MemoryHistory, relayId, settle, storeWith } from "./client-fakes.ts";

const ME: AccountInfo = { accountId: ALICE, deviceId: relayId("alice_laptop"), handle: "alice" };
const myDevice = (status: DeviceInfo["status"]): DeviceInfo => ({
	deviceId: ME.deviceId,
	publicKey: "k",
	name: "laptop",
	status,
	createdAt: 1,
});

/**
 * A device profile around a fake relay. `connect` and `contacts` answer as the test says;
 * every SDK call is recorded, in order, in `calls`.
 */
function device({
	me = ME as AccountInfo | null,
	connect = async () => {},
	contacts = async () => [contactOf(BOB, "accepted")],
	storage = new Map<string, string>(),
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
		joinAccount: vi.fn(record("joinAccount", async () => ME)),
		connect: vi.fn(record("connect", connect)),
		close: vi.fn(record("close", () => {})),
		revokeDevice: vi.fn(record("revokeDevice", async () => myDevice("revoked"))),
		contacts: vi.fn(record("contacts", contacts)),
		accountStatus: vi.fn(
			record("accountStatus", async () => ({ accountId: ALICE, handle: "alice", trust: "untrusted" as const, credits: 1, quotaLeft: 1 })),
		),
		devices: vi.fn(record("devices", async () => [myDevice("approved")])),
		limits: vi.fn(record("limits", () => new Promise<never>(() => {}))),
		creditHistory: vi.fn(),
		requestContact: vi.fn(),
		acceptContact: vi.fn(),
		declineContact: vi.fn(),
		setCallPermission: vi.fn(),
		blockContact: vi.fn(),
		report: vi.fn(),
		safetyNumber: vi.fn(),
		approveDevice: vi.fn(),
		rejectDevice: vi.fn(),
	};
	const kv: KeyValueStorage = {
		getItem: (key) => storage.get(key) ?? null,
		setItem: (key, value) => storage.set(key, value),
		removeItem: (key) => storage.delete(key),
	};
	const keys = {
		destroyed: false,
		getIdentity: async () => null,
		async destroy() {
			keys.destroyed = true;
		},
	};
	const history = new MemoryHistory();
	const cache = new StartUpCache("sm-test", () => kv);
	cache.followContacts(store);
	const notices = new Notices(store);
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
	);
	const phases: Phase[] = [store.state.phase];
	store.subscribe((state) => {
		if (phases.at(-1) !== state.phase) phases.push(state.phase);
	});
	return { store, client, calls, keys, history, storage, lifecycle, phases };
}

describe("the device's lifecycle", () => {
	it("welcomes a profile without an account, and connects nothing", async () => {
		const app = device({ me: null });
		await app.lifecycle.start();
		expect(app.store.state.phase).toBe("welcome");
		expect(app.calls).toEqual(["limits", "whoami"]);
	});

	it("starts an approved device: it connects, loads its contacts, then its account and devices, and remembers it was approved", async () => {
		const app = device();
		await app.lifecycle.start();
		await settle();
		expect(app.calls).toEqual(["limits", "whoami", "connect", "contacts", "accountStatus", "devices"]);
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

	it("waits for approval when the relay says the device is pending, and settles once its approval comes", async () => {
		let pending = true;
		const app = device({
			contacts: async () => {
				if (pending) throw new SdkError("device_pending", "wait");
				return [];
			},
		});
		await app.lifecycle.join("alice", "laptop");
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

	it("reads what each refusal says about the device", () => {
		expect(phaseAfterRefusal("device_pending", false)).toEqual({ phase: "pending", erase: false });
		expect(phaseAfterRefusal("device_revoked", false)).toEqual({ phase: "removed", erase: true });
		expect(phaseAfterRefusal("unauthorized", true)).toEqual({ phase: "removed", erase: false });
		expect(phaseAfterRefusal("closed", true)).toEqual({ phase: "replaced", erase: false });
		expect(phaseAfterRefusal("closed", false)).toBeNull();
		expect(phaseAfterRefusal("internal", true)).toBeNull();
	});
});
