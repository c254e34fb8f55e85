import type { SignedDeviceList } from "../../../common/protocol/device-list.ts";
import { storageMemo } from "../storage/storage-memo.ts";

/** Served with every device listing, to this account's devices and its contacts': one row, parsed once. */
const listMemo = storageMemo<SignedDeviceList | null>();

export function storedDeviceList(sql: SqlStorage): SignedDeviceList | null {
	return listMemo.get(sql, () => {
		const row = sql.exec<{ list: string }>("SELECT list FROM device_list WHERE only = 1").toArray()[0];
		return row ? (JSON.parse(row.list) as SignedDeviceList) : null;
	});
}

/** Only the signed fields are kept, so what is served is exactly what was signed. */
export function storeDeviceList(sql: SqlStorage, list: SignedDeviceList): void {
	const { accountId, version, lastRemoval, identityKey, devices, signature } = list;
	const kept: SignedDeviceList = {
		accountId,
		version,
		lastRemoval,
		identityKey,
		devices: devices.map((d) => ({ deviceId: d.deviceId, publicKey: d.publicKey })),
		signature,
	};
	sql.exec("INSERT OR REPLACE INTO device_list (only, list) VALUES (1, ?)", JSON.stringify(kept));
	listMemo.update(sql, () => kept);
}

/** Only to undo the first list when the write that went with it failed. */
export function clearDeviceList(sql: SqlStorage): void {
	sql.exec("DELETE FROM device_list");
	listMemo.drop(sql);
}
