/** Stand-ins for D1 and R2 during an outage: every call fails, as the real bindings do when down. */

const outage = async (): Promise<never> => {
	throw new Error("R2 simulated outage");
};

/** A D1 whose every statement fails. */
export const brokenD1 = {
	prepare: () => {
		throw new Error("D1_ERROR: simulated outage");
	},
	batch: async () => {
		throw new Error("D1_ERROR: simulated outage");
	},
} as unknown as D1Database;

/** An R2 bucket whose every operation fails. */
export const brokenR2 = { put: outage, get: outage, head: outage, delete: outage, list: outage } as unknown as R2Bucket;
