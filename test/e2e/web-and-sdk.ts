/**
 * One person in the web app and their accepted contact as an SDK client in Node: the
 * cheapest pair for a browser test of what one side of a chat shows.
 */
import type { Browser, Page } from "playwright-core";
import type { ClientFactory, Member } from "../support/sdk-clients.ts";
import { registerMember } from "../support/sdk-clients.ts";
import { contactButton, openChat, requestContact, signUp } from "./app-driver.ts";
import { newProfile, type Profile, UI_TIMEOUT_MS } from "./browser.ts";

export interface WebAndSdk {
	/** The web app's page, with its chat with Bob open. */
	page: Page;
	/** Bob, the SDK client. */
	bob: Member;
	/** Alice's account id. */
	alice: string;
	/** Alice's handle. */
	handle: string;
}

/** Alice signs up in a new profile and asks Bob (an SDK client) to be her contact; he accepts and her chat with him opens. */
export async function aliceInBrowserAndBob(
	e2e: { browser: Browser; server: { baseUrl: string } },
	track: (profile: Profile) => Profile,
	factory: ClientFactory,
): Promise<WebAndSdk> {
	const profile = track(await newProfile(e2e.browser));
	const { page, handle } = await signUp(profile, e2e.server.baseUrl, "alice");
	const bob = await registerMember(factory, "bob");
	await bob.client.connect();
	const requested = bob.client.waitFor("contact", (c) => c.event === "requested", UI_TIMEOUT_MS);
	await requestContact(page, bob.account.handle);
	const alice = (await requested).contact.accountId;
	await bob.client.acceptContact(alice);
	await contactButton(page, bob.account.handle).filter({ hasNotText: "waiting" }).waitFor();
	await openChat(page, bob.account.handle);
	return { page, bob, alice, handle };
}
