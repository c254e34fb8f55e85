/**
 * The VAPID key pair and subject the `worker-push` project is configured with (vitest.config.ts),
 * made once with `node worker/scripts/vapid-keys.mjs`. Apart from the push stand-in, which
 * needs node:crypto, so that tests running in workerd can import it too.
 */
export const TEST_VAPID = {
	publicKey: "BLjHLGPkv_IUIwf7e1p_cy4Uk2-QYmO9HVuB4_qfIoL7oVWnkW5-4JfBXl5Gwzo_TbN7tOpOCqmYbIBvIWpJAKo",
	privateKey: "RfYePZqjj2R5lBRmP23W4fVCp8A2b6MGPo_SrnBH4oE",
	subject: "mailto:operator@relay.test",
};

/** Where the `worker-push` project's push service stand-in answers. */
export const PUSH_BASE = "https://push.test";
