import type { DeviceInfo } from "../../common/protocol/wire.ts";
import { formatWhen } from "./format.ts";
import type { Connection } from "./store.ts";

/** One line of a device's facts in the Devices panel: its term and its value. */
export interface PresenceFact {
	term: "Status" | "Last seen";
	text: string;
}

const OWN_STATUS: Record<Connection, string> = { online: "Online", connecting: "Connecting…", offline: "Offline" };

/**
 * Whether a device is here now, or when it last was. A connected device is "Online", never
 * "last seen" at the time it connected (which is what the relay's record says of it); this
 * device knows its own connection better than the listing it fetched a while ago.
 */
export function devicePresence(
	device: Pick<DeviceInfo, "online" | "lastSeenAt">,
	self: boolean,
	connection: Connection,
	when: (at: number) => string = formatWhen,
): PresenceFact {
	if (self) return { term: "Status", text: OWN_STATUS[connection] };
	if (device.online) return { term: "Status", text: "Online" };
	return { term: "Last seen", text: device.lastSeenAt === undefined ? "not yet" : when(device.lastSeenAt) };
}
