/**
 * An identity reset as a client of the account would make it. The SDK has no call for it yet,
 * so this does what the contract says such a client does: a new identity key signs the next
 * device list (the same devices, the next version, the same lastRemoval), posted from an
 * approved device, with the new key wrapped for every other approved device of the account.
 */
import { ApiClient } from "../../client/core/api-client.ts";
import { generateAccountIdentity } from "../../client/core/identity-key.ts";
import { SessionKeeper } from "../../client/core/session-keeper.ts";
import { toB64u } from "../../common/encoding.ts";
import { signDeviceList } from "../../common/protocol/device-list.ts";
import type { Member } from "../support/sdk-clients.ts";

/**
 * Reset the identity key of `member`'s account, a Node SDK client alone on its account (so no
 * other device needs the new key). The member's store keeps the new key, as that client's would.
 * Returns the new identity key.
 */
export async function resetIdentity(baseUrl: string, member: Member): Promise<string> {
	const api = new ApiClient(baseUrl, (input, init) => fetch(input, init));
	const session = new SessionKeeper(api, member.store);
	const current = (await session.withToken((t) => api.devices(t))).deviceList;
	if (!current) throw new Error("the account has no signed device list to follow");
	if (current.devices.length !== 1) throw new Error("this reset wraps the new key for no other device: use it on an account of one device");
	const fresh = generateAccountIdentity();
	const deviceList = signDeviceList(
		{
			accountId: current.accountId,
			version: current.version + 1,
			lastRemoval: current.lastRemoval,
			identityKey: toB64u(fresh.publicKey),
			devices: current.devices,
		},
		fresh.seed,
	);
	await session.withToken((t) => api.publishDeviceList(t, { deviceList, identityEnvelopes: [] }));
	const me = await member.store.getIdentity();
	if (me) await member.store.setIdentity({ ...me, account: fresh });
	return deviceList.identityKey;
}
