import type { Contact, ContactNotice, ServerFrame } from "../../../common/protocol/wire.ts";

/** What the account's devices hear when one of its contacts changes. */
export const contactFrame = (event: ContactNotice, contact: Contact): ServerFrame => ({ type: "contact", event, contact });

/**
 * An unblock, as the account's devices hear it: the event of the state the contact is back
 * in (there is no event of its own; a device that had the contact as blocked knows it was
 * lifted, see the app's features/contacts.ts).
 */
export function unblockedFrame(contact: Contact): ServerFrame {
	const event: ContactNotice = contact.state === "accepted" ? "accepted" : contact.state === "declined" ? "declined" : "requested";
	return contactFrame(event, contact);
}
