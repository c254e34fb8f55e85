export interface QueueCaps {
	maxMessages: number;
	maxBytes: number;
}

export interface QueueStats {
	count: number;
	bytes: number;
}

/** Whether one more message of `bytes` fits a device's queue (by default 10,000 messages or 100 MB). */
export const fitsQueue = (stats: QueueStats, bytes: number, caps: QueueCaps): boolean =>
	stats.count + 1 <= caps.maxMessages && stats.bytes + bytes <= caps.maxBytes;
