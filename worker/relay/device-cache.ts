import type { DeviceInfo, DeviceStatus } from "../protocol/wire.ts";

type DeviceRow = {
	id: string;
	public_key: string;
	name: string;
	status: DeviceStatus;
	created_at: number;
};

/** This account's devices as last read from D1, so the message path never asks D1. */
export function cachedDevices(sql: SqlStorage): DeviceInfo[] {
	return sql
		.exec<DeviceRow>("SELECT * FROM devices ORDER BY created_at, id")
		.toArray()
		.map((r) => ({ deviceId: r.id, publicKey: r.public_key, name: r.name, status: r.status, createdAt: r.created_at }));
}

export function replaceCachedDevices(sql: SqlStorage, devices: readonly DeviceInfo[]): void {
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
	return sql.exec<{ status: DeviceStatus }>("SELECT status FROM devices WHERE id = ?", deviceId).toArray()[0]?.status;
}

export function approvedDeviceIds(sql: SqlStorage): string[] {
	return sql
		.exec<{ id: string }>("SELECT id FROM devices WHERE status = 'approved' ORDER BY created_at, id")
		.toArray()
		.map((r) => r.id);
}
