import type { DeviceInfo, DeviceStatus } from "../../../common/protocol/wire.ts";
import { storageMemo } from "../storage/storage-memo.ts";

type DeviceRow = {
	id: string;
	public_key: string;
	name: string;
	status: DeviceStatus;
	created_at: number;
};

/** Every message asks for a device's status and the approved devices: a memory copy of the table. */
const devicesMemo = storageMemo<readonly DeviceInfo[]>();

/** This account's devices as last read from D1, so the message path never asks D1. */
export function cachedDevices(sql: SqlStorage): DeviceInfo[] {
	return [
		...devicesMemo.get(sql, () =>
			sql
				.exec<DeviceRow>("SELECT * FROM devices ORDER BY created_at, id")
				.toArray()
				.map((r) => ({ deviceId: r.id, publicKey: r.public_key, name: r.name, status: r.status, createdAt: r.created_at })),
		),
	];
}

export function replaceCachedDevices(sql: SqlStorage, devices: readonly DeviceInfo[]): void {
	devicesMemo.drop(sql);
	sql.exec("DELETE FROM devices");
	for (const d of devices) {
		sql.exec(
			"INSERT INTO devices (id, public_key, name, status, created_at) VALUES (?, ?, ?, ?, ?)",
			d.deviceId,
			d.publicKey,
			d.name,
			d.status,
			d.createdAt,
		);
	}
}

export function deviceStatus(sql: SqlStorage, deviceId: string): DeviceStatus | undefined {
	return cachedDevices(sql).find((d) => d.deviceId === deviceId)?.status;
}

export function approvedDeviceIds(sql: SqlStorage): string[] {
	return cachedDevices(sql)
		.filter((d) => d.status === "approved")
		.map((d) => d.deviceId);
}
