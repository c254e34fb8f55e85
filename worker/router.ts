import { Router } from "itty-router";
import { limitByAddress } from "./address-limits.ts";
import { ApiError, errorResponse } from "./api-error.ts";
import { accountStatus, creditHistory, deleteAccount } from "./routes/account.ts";
import { register } from "./routes/accounts.ts";
import { grantAccountCredits, listAllFlags, listAllReports, lookUpAccount, setAccountTrust, unsuspendAccount } from "./routes/admin.ts";
import { decideReview, listPendingReviews } from "./routes/admin-reviews.ts";
import { cancelAttachment, downloadAttachment, reserveAttachment, uploadAttachment } from "./routes/attachments.ts";
import { challenge, session } from "./routes/auth.ts";
import { dismissCallRequest, setCallPermission, turnServers } from "./routes/calls.ts";
import {
	acceptContact,
	blockContact,
	contactDevices,
	contactKeys,
	declineContact,
	listContacts,
	requestContact,
	rotateContactKey,
	unblockContact,
} from "./routes/contacts.ts";
import { checkout, creditPacks, stripeWebhook } from "./routes/credits.ts";
import {
	approveDevice,
	cancelLink,
	claimLink,
	identityEnvelope,
	listOwnDevices,
	openLink,
	publishDeviceList,
	revokeDevice,
} from "./routes/devices.ts";
import { downloadHistory, endHistory, listHistoryTransfers, uploadHistory } from "./routes/history.ts";
import { limits } from "./routes/limits.ts";
import { deletePushSubscription, pushKey, setPushSubscription } from "./routes/push.ts";
import { backup, completeRecovery, putBackup, recover, recoveryKey, setRecoveryKey } from "./routes/recovery.ts";
import { reportContact } from "./routes/reports.ts";
import { openSocket } from "./routes/socket.ts";

export const router = Router<Request & { params: Record<string, string> }, [Env, ExecutionContext]>({ catch: errorResponse });

// The routes without a token go through their limit per client address first (address-limits.ts).
router
	.post("/api/accounts", limitByAddress("registration"), register)
	.post("/api/auth/challenge", limitByAddress("sign_in"), challenge)
	.post("/api/auth/session", limitByAddress("sign_in"), session)
	.get("/api/ws", openSocket)
	.get("/api/limits", limits)
	.get("/api/push/key", pushKey)
	.post("/api/attachments", reserveAttachment)
	.put("/api/attachments/:owner/:attachmentId", uploadAttachment)
	.get("/api/attachments/:owner/:attachmentId", downloadAttachment)
	.delete("/api/attachments/:owner/:attachmentId", cancelAttachment)
	.get("/api/account", accountStatus)
	.delete("/api/account", deleteAccount)
	.get("/api/account/credits", creditHistory)
	.get("/api/credits/packs", creditPacks)
	.post("/api/credits/checkout", checkout)
	// Signed by Stripe (the body's signature is checked), not by a user's token.
	.post("/api/stripe/webhook", stripeWebhook)
	.put("/api/account/recovery", setRecoveryKey)
	.get("/api/account/recovery", recoveryKey)
	.put("/api/account/backup", putBackup)
	.get("/api/account/backup", backup)
	.post("/api/recovery", limitByAddress("recovery"), recover)
	.get("/api/devices", listOwnDevices)
	.post("/api/devices/list", publishDeviceList)
	.get("/api/devices/identity", identityEnvelope)
	.post("/api/devices/links", openLink)
	.delete("/api/devices/links/:linkId", cancelLink)
	.post("/api/devices/link", limitByAddress("link_claim"), claimLink)
	.put("/api/devices/push", setPushSubscription)
	.delete("/api/devices/push", deletePushSubscription)
	// Before the /api/devices/:deviceId routes: "history" must never be read as a device id.
	.get("/api/devices/history", listHistoryTransfers)
	.put("/api/devices/history/:transferId", uploadHistory)
	.get("/api/devices/history/:transferId/archive", downloadHistory)
	.post("/api/devices/history/:transferId/end", endHistory)
	.post("/api/devices/:deviceId/approve", approveDevice)
	.post("/api/devices/:deviceId/revoke", revokeDevice)
	.post("/api/devices/:deviceId/reject", revokeDevice)
	.post("/api/devices/:deviceId/recover", completeRecovery)
	.get("/api/contacts", listContacts)
	.post("/api/contacts", requestContact)
	.post("/api/contacts/:accountId/accept", acceptContact)
	.post("/api/contacts/:accountId/decline", declineContact)
	.post("/api/contacts/:accountId/block", blockContact)
	.post("/api/contacts/:accountId/unblock", unblockContact)
	.get("/api/contacts/:accountId/keys", contactKeys)
	.get("/api/contacts/:accountId/devices", contactDevices)
	.post("/api/contacts/:accountId/report", reportContact)
	.post("/api/contacts/:accountId/rotate", rotateContactKey)
	.post("/api/contacts/:accountId/calls", setCallPermission)
	.delete("/api/contacts/:accountId/call-request", dismissCallRequest)
	.get("/api/turn", turnServers)
	.get("/api/admin/accounts/:handle", lookUpAccount)
	.post("/api/admin/accounts/:accountId/trust", setAccountTrust)
	.post("/api/admin/accounts/:accountId/credits", grantAccountCredits)
	.post("/api/admin/accounts/:accountId/unsuspend", unsuspendAccount)
	.get("/api/admin/flags", listAllFlags)
	.get("/api/admin/reports", listAllReports)
	.get("/api/admin/reviews", listPendingReviews)
	.post("/api/admin/accounts/:accountId/review", decideReview)
	.all("/api/*", () => {
		throw new ApiError("not_found", "No such API route.");
	});
