import type { OwnDevice } from "../../core/sdk.ts";
import type { RecoveryState } from "../store.ts";

/**
 * What signing this device out costs the person, for the warning before it:
 * - `other_devices`: another approved device of the account goes on as before;
 * - `recovery_key`: this is the account's last device, and only its recovery key brings the
 *   account back on a new device (it exists; whether the person still has it, only they know);
 * - `account_lost`: the last device and no recovery key: nobody can use the account again.
 * Keys live on devices only, so the server cannot help in either of the last two cases.
 */
export type SignOutRisk = "other_devices" | "recovery_key" | "account_lost";

export function signOutRisk(devices: readonly OwnDevice[] | null, me: string, recovery: Pick<RecoveryState, "hasKey">): SignOutRisk {
	// Unknown devices count as none: the warning must not be the milder one by mistake.
	if ((devices ?? []).some((d) => d.deviceId !== me && d.status === "approved")) return "other_devices";
	return recovery.hasKey === true ? "recovery_key" : "account_lost";
}
