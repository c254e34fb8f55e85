import { Router } from "itty-router";
import { ApiError, errorResponse } from "./api-error.ts";
import { register } from "./routes/accounts.ts";
import { challenge, session } from "./routes/auth.ts";
import {
	acceptContact,
	blockContact,
	contactDevices,
	contactKeys,
	declineContact,
	listContacts,
	listOwnDevices,
	requestContact,
} from "./routes/contacts.ts";
import { openSocket } from "./routes/socket.ts";

export const router = Router<Request & { params: Record<string, string> }, [Env, ExecutionContext]>({ catch: errorResponse });

router
	.post("/api/accounts", register)
	.post("/api/auth/challenge", challenge)
	.post("/api/auth/session", session)
	.get("/api/ws", openSocket)
	.get("/api/devices", listOwnDevices)
	.get("/api/contacts", listContacts)
	.post("/api/contacts", requestContact)
	.post("/api/contacts/:accountId/accept", acceptContact)
	.post("/api/contacts/:accountId/decline", declineContact)
	.post("/api/contacts/:accountId/block", blockContact)
	.get("/api/contacts/:accountId/keys", contactKeys)
	.get("/api/contacts/:accountId/devices", contactDevices)
	.all("/api/*", () => {
		throw new ApiError("not_found", "No such API route.");
	});
