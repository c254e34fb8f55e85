import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, RELAXED_LIMITS, startDevServer } from "../support/dev-server.ts";
import {
	allowCallsFrom,
	becomeContacts,
	callScreen,
	openChat,
	receivedPackets,
	signUp,
	waitForCallPhase,
	waitForInboundPackets,
	waitForPeerConnection,
	waitForRemoteVideo,
	watchPeerConnections,
} from "./app-driver.ts";
import { violations } from "./axe.ts";
import { closeProfilesAfterEach, FAKE_MEDIA_ARGS, LAPTOP, launchChromium, newProfile, PHONE, type Profile, screenshot } from "./browser.ts";

let server: DevServer;
let browser: Browser;
const track = closeProfilesAfterEach();

beforeAll(async () => {
	// No STUN server: on one machine the browsers reach each other through their host candidates.
	[server, browser] = await Promise.all([startDevServer({ vars: { ...RELAXED_LIMITS, STUN_URLS: "" } }), launchChromium(FAKE_MEDIA_ARGS)]);
});

afterAll(async () => {
	await browser?.close();
	await server?.dispose();
});

/**
 * Someone who allowed the site their camera and microphone (Chromium's fake ones), signed in;
 * `prepare` sets up their browser profile before the app opens.
 */
async function person(
	prefix: string,
	viewport = LAPTOP,
	prepare?: (context: BrowserContext) => Promise<unknown>,
): Promise<{ profile: Profile; page: Page; handle: string }> {
	const profile = track(await newProfile(browser, viewport, ["camera", "microphone"]));
	await prepare?.(profile.context);
	return { profile, ...(await signUp(profile, server.baseUrl, prefix)) };
}

/**
 * The profile's connection to the relay, with a switch that drops every ICE candidate either
 * way: with no candidates (and no STUN), the two browsers have no address to try.
 */
async function candidateFilter(context: BrowserContext): Promise<{ dropping: boolean }> {
	const filter = { dropping: false };
	const isCandidate = (data: string | Buffer) => typeof data === "string" && /"type":"call"/.test(data) && /"kind":"ice"/.test(data);
	await context.routeWebSocket(
		() => true,
		(page) => {
			const relay = page.connectToServer();
			page.onMessage((data) => {
				if (!(filter.dropping && isCandidate(data))) relay.send(data);
			});
			relay.onMessage((data) => {
				if (!(filter.dropping && isCandidate(data))) page.send(data);
			});
		},
	);
	return filter;
}

/** The call log lines of the open conversation, oldest first. */
const callLog = (page: Page): Promise<string[]> => page.getByTestId("call-log").locator(".call-log-text").allTextContents();

/** What the call screen's ringtone plays, and its AudioContext's state. */
async function ringing(page: Page): Promise<{ kind: string | null; audio: string | null }> {
	const screen = callScreen(page);
	return { kind: await screen.getAttribute("data-ringing"), audio: await screen.getAttribute("data-ring-audio") };
}

/** Whether the call's own microphone and camera tracks are enabled, read from the self view. */
function localTracks(page: Page): Promise<{ audio: boolean; video: boolean }> {
	return page.evaluate(`(() => {
		const stream = document.querySelector(".call-screen video.self-view").srcObject;
		return { audio: stream.getAudioTracks()[0].enabled, video: stream.getVideoTracks()[0].enabled };
	})()`);
}

describe("calls in the web app, in real Chromium with fake camera and microphone", () => {
	it("connects a video call the callee allowed (after one they declined): both peer connections reach connected, video arrives both ways, and a hangup ends it on both sides", async () => {
		const alice = await person("alice");
		const bob = await person("bob", PHONE);
		await becomeContacts(alice, bob);
		await allowCallsFrom(bob.page, alice.handle);
		await bob.page.getByRole("button", { name: "Contact info" }).click();
		await screenshot(bob.page, "contact-info-calls-allowed-phone");
		await bob.page.getByRole("button", { name: "Close info" }).click();

		// A first call Bob declines; Alice calls again and he accepts.
		await alice.page.getByRole("button", { name: "Video call" }).click();
		await waitForCallPhase(bob.page, "incoming");
		await bob.page.getByRole("button", { name: "Decline" }).click();
		await alice.page.getByText(`@${bob.handle} declined the call.`).waitFor();
		await alice.page.getByRole("button", { name: "Call again" }).click();

		await waitForCallPhase(bob.page, "incoming");
		await bob.page.getByText("Incoming video call").waitFor();
		// The callee's ring, and the caller's quiet ring-back once the callee's devices ring.
		await alice.page.locator('.call-screen[data-call-phase="ringing"][data-ringing="ringback"]').waitFor();
		expect(await ringing(bob.page)).toEqual({ kind: "incoming", audio: expect.stringMatching(/^(running|suspended)$/) });
		expect(await bob.page.title()).toBe(`Incoming call from @${alice.handle}`);
		await screenshot(bob.page, "call-incoming-phone");
		const found = await violations(bob.page, "incoming call (phone)");

		await bob.page.getByRole("button", { name: "Accept with video" }).click();
		await Promise.all([waitForPeerConnection(alice.page, "connected"), waitForPeerConnection(bob.page, "connected")]);
		await Promise.all([waitForCallPhase(alice.page, "connected"), waitForCallPhase(bob.page, "connected")]);
		// Accepting stopped the ring on both sides, and closed its AudioContext.
		for (const page of [alice.page, bob.page]) expect(await ringing(page)).toEqual({ kind: "off", audio: "closed" });

		// Frames keep arriving in the callee's remote <video>, and in the caller's.
		const [atBob, atAlice] = await Promise.all([waitForRemoteVideo(bob.page), waitForRemoteVideo(alice.page)]);
		expect(atBob.width).toBeGreaterThan(0);
		expect(atAlice.width).toBeGreaterThan(0);
		await bob.page.getByTestId("call-duration").filter({ hasNotText: "0:00" }).waitFor();

		// Mute and camera off switch the tracks that are sent, and back.
		const mute = alice.page.getByRole("button", { name: "Mute" });
		const camera = alice.page.getByRole("button", { name: "Camera off" });
		await mute.click();
		await camera.click();
		await expect.poll(() => localTracks(alice.page)).toEqual({ audio: false, video: false });
		expect(await mute.getAttribute("aria-pressed")).toBe("true");
		// Bob is told (sealed): Alice's avatar instead of a black picture, and a muted microphone.
		const aliceMuted = bob.page.getByRole("status", { name: `@${alice.handle} muted` });
		await aliceMuted.waitFor();
		await callScreen(bob.page).locator(".call-avatar").waitFor();
		expect(await callScreen(bob.page).getAttribute("class")).not.toMatch(/with-video/);
		found.push(...(await violations(bob.page, "connected call, other side muted (phone)")));
		await mute.click();
		await camera.click();
		await expect.poll(() => localTracks(alice.page)).toEqual({ audio: true, video: true });
		await aliceMuted.waitFor({ state: "detached" });
		await callScreen(bob.page).locator(".call-avatar").waitFor({ state: "detached" });

		// Screen sharing replaces the camera picture the peer receives, and stops again.
		const share = alice.page.getByRole("button", { name: "Share screen" });
		await share.click();
		await alice.page.locator('button[aria-pressed="true"]', { hasText: "Share screen" }).waitFor();
		// The fake screen is the size of Alice's tab, not of the fake camera's picture.
		const screen = await waitForRemoteVideo(bob.page, (video) => video.width !== atBob.width);
		await screenshot(bob.page, "call-screen-shared-phone");
		await share.click();
		await alice.page.locator('button[aria-pressed="false"]', { hasText: "Share screen" }).waitFor();
		// The camera again (WebRTC may send it smaller than at first, after the bigger screen).
		await waitForRemoteVideo(bob.page, (video) => video.width !== screen.width);

		await screenshot(alice.page, "call-connected");
		await screenshot(bob.page, "call-connected-phone");
		found.push(...(await violations(alice.page, "connected call")));
		expect(found).toEqual([]);

		await alice.page.getByRole("button", { name: "Hang up" }).click();
		await Promise.all([waitForCallPhase(alice.page, "ended"), waitForCallPhase(bob.page, "ended")]);
		await alice.page.getByText(/^You ended the call after \d+ s\.$/).waitFor();
		await bob.page.getByText(new RegExp(`^@${alice.handle} ended the call after \\d+ s\\.$`)).waitFor();
		await waitForPeerConnection(bob.page, "closed");
		await waitForPeerConnection(alice.page, "closed");
		// The screen goes by itself, back to the chat.
		await callScreen(bob.page).waitFor({ state: "detached" });
		// Each side logged both calls in the chat, as lines among the messages, kept over a reload.
		const logged = ["Declined", expect.stringMatching(/^Video call · 0:\d\d$/)];
		await expect.poll(() => callLog(bob.page)).toEqual(logged);
		await callScreen(alice.page).waitFor({ state: "detached" });
		await alice.page.reload();
		await openChat(alice.page, bob.handle);
		await expect.poll(() => callLog(alice.page)).toEqual(logged);
		expect(await alice.page.getByTestId("call-log").getByRole("button").count()).toBe(0);
	});

	it("asks the callee to allow calls (not now, then allow, which rings at once), and tells the caller in a sentence when the callee did not answer, could not be reached over the network, or has no device online", async () => {
		let candidates: { dropping: boolean } | undefined;
		const alice = await person("alice", LAPTOP, async (context) => {
			candidates = await candidateFilter(context);
		});
		const bob = await person("bob");
		await becomeContacts(alice, bob);

		// Bob has not allowed Alice's calls: nothing rings, he is asked in their chat, and says not now.
		await alice.page.getByRole("button", { name: "Audio call" }).click();
		await callScreen(alice.page).getByText(`Asking @${bob.handle} to allow calls…`).waitFor();
		expect(await callScreen(alice.page).getAttribute("data-call-phase")).toBe("asking");
		const request = bob.page.getByTestId("call-request");
		await request.getByText(`@${alice.handle} wants to call you`).waitFor();
		expect(await callScreen(bob.page).count()).toBe(0);
		await screenshot(bob.page, "call-request");
		await request.getByRole("button", { name: "Not now" }).click();
		await request.waitFor({ state: "detached" });
		await alice.page.getByText(`@${bob.handle} can't take calls from you right now.`).waitFor();
		expect(await callScreen(alice.page).getAttribute("data-call-phase")).toBe("ended");
		expect(await alice.page.getByRole("button", { name: "Call again" }).count()).toBe(0);
		expect(await alice.page.locator("body").textContent()).not.toMatch(/calls_not_allowed|not_now/);
		await alice.page.getByRole("button", { name: "Close" }).click();
		await callScreen(alice.page).waitFor({ state: "detached" });

		// Asked again, Bob allows: Alice's app, still waiting, calls at once and his device rings.
		// Nobody answers: Alice's app gives up after its ring time (45 s, on a fake clock).
		await alice.page.clock.install();
		await alice.page.getByRole("button", { name: "Audio call" }).click();
		await waitForCallPhase(alice.page, "asking");
		await request.getByRole("button", { name: "Allow" }).click();
		await waitForCallPhase(bob.page, "incoming");
		await request.waitFor({ state: "detached" });
		await alice.page.clock.fastForward("00:46");
		await alice.page.getByText(`@${bob.handle} did not answer.`).waitFor();
		await bob.page.getByText(`You missed a call from @${alice.handle}.`).waitFor();
		await expect.poll(() => callLog(bob.page)).toEqual(["Missed call"]);
		await expect.poll(() => callLog(alice.page)).toEqual(["No answer"]);
		await bob.page.getByRole("button", { name: "Close" }).click();
		// The permission stays, per contact, and can be taken back under Contact info.
		await bob.page.getByRole("button", { name: "Contact info" }).click();
		expect(await bob.page.getByRole("checkbox", { name: `Allow calls from @${alice.handle}` }).isChecked()).toBe(true);
		await bob.page.getByRole("button", { name: "Close info" }).click();

		// Bob answers, but no ICE candidate gets through: the media cannot connect, and Alice's
		// app gives up after its connect time (30 s).
		candidates!.dropping = true;
		await alice.page.getByRole("button", { name: "Call again" }).click();
		await waitForCallPhase(bob.page, "incoming");
		await bob.page.getByRole("button", { name: "Accept" }).click();
		await waitForCallPhase(alice.page, "connecting");
		await alice.page.clock.fastForward("00:31");
		await alice.page
			.getByText(`The call could not connect: this device and @${bob.handle}'s could not reach each other.`, { exact: false })
			.waitFor();
		await alice.page.getByRole("button", { name: "Call again" }).waitFor();
		await waitForCallPhase(bob.page, "ended");
		candidates!.dropping = false;
		await screenshot(alice.page, "call-failed");
		await alice.page.getByRole("button", { name: "Close" }).click();

		await bob.page.close();
		await alice.page.getByRole("button", { name: "Audio call" }).click();
		await alice.page.getByText(`@${bob.handle} cannot be reached right now: none of their devices is online`, { exact: false }).waitFor();
		await alice.page.getByRole("button", { name: "Call again" }).waitFor();
	});

	it("connects an audio call whose sound flows both ways while a third caller hears the callee is in another call; a video call accepted audio only sends no video", async () => {
		const alice = await person("alice", LAPTOP, watchPeerConnections);
		const bob = await person("bob", LAPTOP, watchPeerConnections);
		const carol = await person("carol");
		await becomeContacts(carol, bob);
		await allowCallsFrom(bob.page, carol.handle);
		await becomeContacts(alice, bob);
		await allowCallsFrom(bob.page, alice.handle);

		await alice.page.getByRole("button", { name: "Audio call" }).click();
		await waitForCallPhase(bob.page, "incoming");
		await bob.page.getByText("Incoming audio call").waitFor();
		await bob.page.getByRole("button", { name: "Accept", exact: true }).click();
		await Promise.all([waitForCallPhase(alice.page, "connected"), waitForCallPhase(bob.page, "connected")]);
		// The fake microphone's sound arrives, packet after packet, on both sides; no picture.
		await Promise.all([waitForInboundPackets(bob.page, "audio"), waitForInboundPackets(alice.page, "audio")]);
		expect(await receivedPackets(bob.page, "video")).toBe(0);
		for (const page of [alice.page, bob.page]) {
			expect(await page.getByRole("button", { name: "Camera off" }).count()).toBe(0);
			expect(await page.getByRole("button", { name: "Share screen" }).count()).toBe(0);
		}

		// Carol calls Bob meanwhile: his device in the call answers busy, and his call goes on.
		await carol.page.getByRole("button", { name: "Audio call" }).click();
		await carol.page.getByText(`@${bob.handle} is in another call. Try again later.`).waitFor();
		await carol.page.getByRole("button", { name: "Call again" }).waitFor();
		expect(await callScreen(bob.page).getAttribute("data-call-phase")).toBe("connected");
		await waitForInboundPackets(bob.page, "audio");

		await bob.page.getByRole("button", { name: "Hang up" }).click();
		await waitForCallPhase(alice.page, "ended");
		await callScreen(alice.page).waitFor({ state: "detached" });

		// A video call Bob takes with audio only: Alice's camera reaches him, nothing of his camera reaches her.
		await alice.page.getByRole("button", { name: "Video call" }).click();
		await waitForCallPhase(bob.page, "incoming");
		await bob.page.getByRole("button", { name: "Accept audio only" }).click();
		await Promise.all([waitForCallPhase(alice.page, "connected"), waitForCallPhase(bob.page, "connected")]);
		await waitForRemoteVideo(bob.page);
		await waitForInboundPackets(alice.page, "audio");
		expect(await receivedPackets(alice.page, "video")).toBe(0);
		expect(await bob.page.getByRole("button", { name: "Share screen" }).count()).toBe(0);
		expect(await bob.page.getByRole("button", { name: "Camera off" }).count()).toBe(0);
		await alice.page.getByRole("button", { name: "Hang up" }).click();
		await waitForCallPhase(bob.page, "ended");
	});
});
