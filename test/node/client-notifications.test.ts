import { describe, expect, it } from "vitest";
import {
	DesktopNotifications,
	type NotificationPlatform,
	NotificationSettings,
	openChatMessage,
	type RingingCalls,
} from "../../client/app/features/desktop-notifications.ts";
import {
	type DesktopNotice,
	desktopNotice,
	type NotificationChoices,
	offerNotifications,
	type PageAttention,
	PREVIEW_MAX,
} from "../../client/app/notification-rules.ts";
import { ALICE, BOB, contactOf, incoming, MemoryHistory, memoryStorage, relayId, settle, storeWith } from "./client-fakes.ts";
import { receivingApp } from "./receiving-app.ts";

const CAROL = relayId("carol");
const ON: NotificationChoices = { enabled: true, previews: false, muted: [] };
const AWAY: PageAttention = { visible: false, focused: false, activePeer: null };
const message = (text: string, peerId = BOB, file = false) => ({ kind: "message" as const, peerId, text, file });

describe("when a desktop notification shows", () => {
	it("shows one for a new message while the tab is hidden or its window is not focused, never while the person looks at the app", () => {
		const hidden = desktopNotice(message("hi"), "granted", ON, AWAY, "bob");
		expect(hidden).toEqual({ title: "@bob", body: "New message", tag: `message:${BOB}`, peerId: BOB });
		// Visible but another window in front (side by side): notified, unless that chat is open.
		expect(desktopNotice(message("hi"), "granted", ON, { visible: true, focused: false, activePeer: CAROL }, "bob")).toEqual(hidden);
		expect(desktopNotice(message("hi"), "granted", ON, { visible: true, focused: true, activePeer: CAROL }, "bob")).toBeNull();
		expect(desktopNotice(message("hi"), "granted", ON, { visible: true, focused: true, activePeer: null }, "bob")).toBeNull();
	});

	it("skips the chat open on a visible page (its messages count as read there), but not on a hidden one", () => {
		expect(desktopNotice(message("hi"), "granted", ON, { visible: true, focused: false, activePeer: BOB }, "bob")).toBeNull();
		expect(desktopNotice(message("hi"), "granted", ON, { visible: false, focused: false, activePeer: BOB }, "bob")?.title).toBe("@bob");
	});

	it("shows nothing without the browser's permission or once turned off here", () => {
		for (const permission of ["default", "denied", "unsupported"] as const) {
			expect(desktopNotice(message("hi"), permission, ON, AWAY, "bob")).toBeNull();
		}
		expect(desktopNotice(message("hi"), "granted", { ...ON, enabled: false }, AWAY, "bob")).toBeNull();
		expect(desktopNotice({ kind: "call", peerId: BOB, video: false }, "granted", { ...ON, enabled: false }, AWAY, "bob")).toBeNull();
	});

	it("silences a muted contact's messages, not their calls, nor other contacts' messages", () => {
		const muted = { ...ON, muted: [BOB] };
		expect(desktopNotice(message("hi"), "granted", muted, AWAY, "bob")).toBeNull();
		expect(desktopNotice(message("hi", CAROL), "granted", muted, AWAY, "carol")?.title).toBe("@carol");
		expect(desktopNotice({ kind: "call", peerId: BOB, video: true }, "granted", muted, AWAY, "bob")).toEqual({
			title: "@bob",
			body: "Incoming video call",
			tag: `call:${BOB}`,
			peerId: BOB,
		});
	});

	it("says 'Incoming call' for a call, under its own tag, even with the caller's chat open on a visible page in an unfocused window", () => {
		const notice = desktopNotice(
			{ kind: "call", peerId: BOB, video: false },
			"granted",
			ON,
			{ visible: true, focused: false, activePeer: BOB },
			"bob",
		);
		expect(notice).toEqual({ title: "@bob", body: "Incoming call", tag: `call:${BOB}`, peerId: BOB });
		expect(notice?.tag).not.toBe(desktopNotice(message("hi"), "granted", ON, AWAY, "bob")?.tag);
	});

	it("shows the text only with previews on, on one line and cut; a file says 'Sent a file' either way", () => {
		const previews = { ...ON, previews: true };
		expect(desktopNotice(message("see you\n  at 8"), "granted", previews, AWAY, "bob")?.body).toBe("see you at 8");
		expect(desktopNotice(message("see you at 8"), "granted", ON, AWAY, "bob")?.body).toBe("New message");
		const long = desktopNotice(message("x".repeat(500)), "granted", previews, AWAY, "bob")?.body ?? "";
		expect(long).toHaveLength(PREVIEW_MAX);
		expect(long.endsWith("…")).toBe(true);
		expect(desktopNotice(message("", BOB, true), "granted", previews, AWAY, "bob")?.body).toBe("Sent a file");
		expect(desktopNotice(message("   "), "granted", previews, AWAY, "bob")?.body).toBe("New message");
	});

	it("tags each contact's notifications apart, so a burst from one replaces rather than stacks", () => {
		const first = desktopNotice(message("one"), "granted", ON, AWAY, "bob");
		const second = desktopNotice(message("two"), "granted", ON, AWAY, "bob");
		const other = desktopNotice(message("one", CAROL), "granted", ON, AWAY, "carol");
		expect(first?.tag).toBe(second?.tag);
		expect(other?.tag).not.toBe(first?.tag);
		// Someone no longer among the contacts has no handle to show.
		expect(desktopNotice(message("one"), "granted", ON, AWAY, undefined)?.title).toBe("A contact");
	});

	it("offers notifications once there is an accepted contact, only while the browser was not asked, and not after 'Not now'", () => {
		const accepted = [contactOf(BOB, "accepted")];
		expect(offerNotifications("default", false, [])).toBe(false);
		expect(offerNotifications("default", false, [contactOf(BOB, "outgoing")])).toBe(false);
		expect(offerNotifications("default", false, accepted)).toBe(true);
		expect(offerNotifications("default", true, accepted)).toBe(false);
		for (const permission of ["granted", "denied", "unsupported"] as const)
			expect(offerNotifications(permission, false, accepted)).toBe(false);
	});
});

/** The browser's part, as a record of what was shown and closed. */
function fakePlatform(initial: "default" | "granted" | "denied" = "default", answer: "granted" | "denied" = "granted") {
	let permission: ReturnType<NotificationPlatform["permission"]> = initial;
	const shown: DesktopNotice[] = [];
	const closed: string[] = [];
	const clicks: Array<() => void> = [];
	let serviceWorkerClick: (peerId: string) => void = () => {};
	let focused = 0;
	const attention = { visible: false, focused: false };
	const platform: NotificationPlatform = {
		permission: () => permission,
		requestPermission: async () => {
			permission = answer;
			return answer;
		},
		watchPermission: () => {},
		attention: () => attention,
		show: async (notice, clicked) => {
			shown.push(notice);
			clicks.push(clicked);
		},
		close: async (tag) => {
			closed.push(tag);
		},
		watchClicks: (listener) => {
			serviceWorkerClick = listener;
		},
		focusWindow: () => {
			focused++;
		},
	};
	return {
		platform,
		shown,
		closed,
		attention,
		click: (i: number) => clicks[i]?.(),
		serviceWorkerClick: (peerId: string) => serviceWorkerClick(peerId),
		focused: () => focused,
	};
}

function notificationsWith(platform: NotificationPlatform, storage = memoryStorage(), activePeer: string | null = null) {
	const handles: Record<string, string> = { [BOB]: "bob", [CAROL]: "carol" };
	let granted = 0;
	const notifications = new DesktopNotifications(
		platform,
		new NotificationSettings("sm-app-history", () => storage),
		{ handle: (id) => handles[id], activePeer: () => activePeer },
		() => granted++,
	);
	return { notifications, storage, granted: () => granted };
}

/** A call controller's state as the notifications watch it. */
function callsOf(): RingingCalls & { set(state: RingingCalls["state"]): void } {
	const listeners = new Set<(state: RingingCalls["state"]) => void>();
	const calls = {
		state: null as RingingCalls["state"],
		subscribe(listener: (state: RingingCalls["state"]) => void) {
			listeners.add(listener);
			return () => listeners.delete(listener);
		},
		set(state: RingingCalls["state"]) {
			calls.state = state;
			for (const l of listeners) l(state);
		},
	};
	return calls;
}

describe("the desktop notifications of the web app", () => {
	it("asks the browser only when 'Turn on' is pressed, then notifies; its choices stay on this device across reloads", async () => {
		const fake = fakePlatform("default");
		const { notifications, storage, granted } = notificationsWith(fake.platform);
		notifications.message(BOB, "hi", false);
		await settle();
		expect(fake.shown).toEqual([]);
		expect(await notifications.turnOn()).toBe("granted");
		expect(granted()).toBe(1);
		notifications.message(BOB, "hi", false);
		await settle();
		expect(fake.shown.map((n) => [n.title, n.body])).toEqual([["@bob", "New message"]]);

		notifications.setPreviews(true);
		notifications.setMuted(CAROL, true);
		notifications.dismissOffer();
		const again = notificationsWith(fake.platform, storage).notifications;
		expect(again.state).toMatchObject({ permission: "granted", enabled: true, previews: true, muted: [CAROL], dismissed: true });
		again.setMuted(CAROL, false);
		again.setEnabled(false);
		expect(notificationsWith(fake.platform, storage).notifications.state).toMatchObject({ enabled: false, muted: [] });
	});

	it("keeps notifications off when the browser says no, and survives a damaged mute list", async () => {
		const fake = fakePlatform("default", "denied");
		const storage = memoryStorage();
		storage.setItem("sm-app-history:notifications-muted", "{not json");
		const { notifications, granted } = notificationsWith(fake.platform, storage);
		expect(notifications.state.muted).toEqual([]);
		expect(await notifications.turnOn()).toBe("denied");
		expect(granted()).toBe(0);
		notifications.message(BOB, "hi", false);
		await settle();
		expect(fake.shown).toEqual([]);
	});

	it("opens the chat of a clicked notification and brings the window forward, whether the page or the service worker showed it", async () => {
		const fake = fakePlatform("granted");
		const { notifications } = notificationsWith(fake.platform);
		const opened: string[] = [];
		notifications.onOpen((peerId) => opened.push(peerId));
		notifications.message(BOB, "hi", false);
		await settle();
		fake.click(0);
		fake.serviceWorkerClick(CAROL);
		expect(opened).toEqual([BOB, CAROL]);
		expect(fake.focused()).toBe(2);
	});

	it("notifies of a ringing call (a muted caller's too) and takes the notification away once it stops ringing", async () => {
		const fake = fakePlatform("granted");
		const { notifications } = notificationsWith(fake.platform);
		notifications.setMuted(BOB, true);
		const calls = callsOf();
		notifications.watchCalls(calls);
		calls.set({ key: 1, peerId: BOB, video: false, direction: "incoming", phase: "incoming" });
		// The same call again (a state change while it rings) notifies once.
		calls.set({ key: 1, peerId: BOB, video: false, direction: "incoming", phase: "incoming" });
		await settle();
		expect(fake.shown.map((n) => [n.title, n.body, n.tag])).toEqual([["@bob", "Incoming call", `call:${BOB}`]]);
		calls.set({ key: 1, peerId: BOB, video: false, direction: "incoming", phase: "connecting" });
		await settle();
		expect(fake.closed).toEqual([`call:${BOB}`]);
		// An outgoing call rings nothing here.
		calls.set({ key: 2, peerId: CAROL, video: true, direction: "outgoing", phase: "ringing" });
		await settle();
		expect(fake.shown).toHaveLength(1);
	});

	it("decides at arrival: a message that came while the person looked shows nothing later", async () => {
		const fake = fakePlatform("granted");
		const { notifications } = notificationsWith(fake.platform);
		fake.attention.visible = true;
		fake.attention.focused = true;
		notifications.message(BOB, "hi", false);
		fake.attention.focused = false;
		await settle();
		expect(fake.shown).toEqual([]);
	});

	it("reads only the click messages of its service worker", () => {
		expect(openChatMessage({ type: "open-chat", peerId: BOB })).toEqual({ type: "open-chat", peerId: BOB });
		for (const data of [null, "open-chat", { type: "open-chat" }, { type: "open-chat", peerId: "" }, { type: "other", peerId: BOB }]) {
			expect(openChatMessage(data)).toBeNull();
		}
	});
});

describe("the arrival hook of incoming messages", () => {
	it("tells of each new message from a contact once, not of this account's own, nor of one delivered again", async () => {
		const store = storeWith({ phase: "ready", me: { accountId: ALICE, deviceId: relayId("alice_laptop"), handle: "alice" } });
		const arrived: string[] = [];
		const app = receivingApp(
			store,
			new MemoryHistory(),
			{} as never,
			() => false,
			(record) => arrived.push(record.text),
		);
		await app.arrive(incoming(relayId("m1"), { text: "one" }));
		await app.arrive(incoming(relayId("m1"), { text: "one" }));
		await app.arrive(incoming(relayId("m2"), { text: "mine", outgoing: true, from: ALICE }));
		expect(arrived).toEqual(["one"]);
	});
});
