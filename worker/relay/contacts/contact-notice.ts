import type { Contact, ContactNotice, ServerFrame } from "../../../common/protocol/wire.ts";

/** What the account's devices hear when one of its contacts changes. */
export const contactFrame = (event: ContactNotice, contact: Contact): ServerFrame => ({ type: "contact", event, contact });
