import { AccountDeletion } from "./account/account-deletion.ts";
import { AccountState } from "./account/account-state.ts";
import { SendAllowance } from "./account/send-allowance.ts";
import { AttachmentService } from "./attachments/attachment-service.ts";
import { BlobBin } from "./attachments/blob-bin.ts";
import { CallService } from "./calls/call-service.ts";
import { ChallengeLog } from "./challenges/challenge-log.ts";
import { ContactService } from "./contacts/contact-service.ts";
import { KeyRotation } from "./contacts/key-rotation.ts";
import { CreditAccount } from "./credits/credit-account.ts";
import { CreditFlush } from "./credits/credit-flush.ts";
import { type AlarmPort, DeadlineScheduler } from "./deadline-scheduler.ts";
import { DeviceLinks } from "./devices/device-links.ts";
import { DeviceLists } from "./devices/device-lists.ts";
import { DeviceRegistry } from "./devices/device-registry.ts";
import { HistoryTransfers } from "./history/history-transfers.ts";
import type { JobName, RelayHost } from "./host.ts";
import { Housekeeping } from "./housekeeping.ts";
import { Delivery } from "./messaging/delivery.ts";
import { HeldMessages } from "./messaging/held-messages.ts";
import { ReadReceipts } from "./messaging/read-receipts.ts";
import { SendPipeline } from "./messaging/send-pipeline.ts";
import { TypingNotices } from "./messaging/typing-notices.ts";
import { PushNotifier } from "./push/push-notifier.ts";
import { RecoveryService } from "./recovery/recovery-service.ts";
import { FrameDispatch } from "./sockets/frame-dispatch.ts";
import { SocketHub } from "./sockets/socket-hub.ts";

/**
 * The services of one account's object, wired to each other. Each takes the host port and
 * this container, and reaches the others through it only when called, so the order below is
 * only the order of construction, not of dependency.
 */
export class RelayServices {
	readonly held = new HeldMessages();
	readonly hub: SocketHub;
	readonly push: PushNotifier;
	readonly credits: CreditAccount;
	readonly flush: CreditFlush;
	readonly allowance: SendAllowance;
	readonly account: AccountState;
	readonly devices: DeviceRegistry;
	readonly lists: DeviceLists;
	readonly links: DeviceLinks;
	readonly rotation: KeyRotation;
	readonly contacts: ContactService;
	readonly bin: BlobBin;
	readonly attachments: AttachmentService;
	readonly history: HistoryTransfers;
	readonly delivery: Delivery;
	readonly reads: ReadReceipts;
	readonly deletion: AccountDeletion;
	readonly sends: SendPipeline;
	readonly typing: TypingNotices;
	readonly challenges: ChallengeLog;
	readonly recovery: RecoveryService;
	readonly calls: CallService;
	readonly housekeeping: Housekeeping;
	readonly frames: FrameDispatch;
	readonly scheduler: DeadlineScheduler<JobName>;

	constructor(host: RelayHost, alarm: AlarmPort) {
		this.hub = new SocketHub(
			host,
			{
				status: () => this.account.status(),
				pendingDevices: () => this.devices.pending(),
				callRequests: () => this.calls.waitingRequests(),
			},
			this.held,
		);
		this.push = new PushNotifier(host);
		this.credits = new CreditAccount(host);
		this.flush = new CreditFlush(host, this.credits);
		this.allowance = new SendAllowance(host);
		this.account = new AccountState(host, this);
		this.devices = new DeviceRegistry(host, this);
		this.lists = new DeviceLists(host, this);
		this.links = new DeviceLinks(host, this);
		this.rotation = new KeyRotation(host, this);
		this.contacts = new ContactService(host, this);
		this.bin = new BlobBin(host);
		this.attachments = new AttachmentService(host, this);
		this.history = new HistoryTransfers(host, this);
		this.delivery = new Delivery(host, this);
		this.reads = new ReadReceipts(host);
		this.deletion = new AccountDeletion(host, this);
		this.sends = new SendPipeline(host, this);
		this.typing = new TypingNotices(host, this);
		this.challenges = new ChallengeLog(host);
		this.recovery = new RecoveryService(host, this);
		this.calls = new CallService(host, this);
		this.housekeeping = new Housekeeping(host);
		this.frames = new FrameDispatch(this.hub, {
			send: (deviceId, frame) => this.sends.send(deviceId, frame),
			passOnReceipts: (receipts) => this.sends.passOnReceipts(receipts),
			ack: (ws, state, ids, from, receipt) => this.delivery.ack(ws, state, ids, from, receipt),
			read: (state, frame) => this.reads.send(state, frame),
			typing: (ws, state, to) => this.typing.fromSocket(ws, state, to),
			call: (deviceId, frame) => this.calls.fromDevice(deviceId, frame),
			deviceRefusal: (deviceId) => this.devices.refusal(deviceId),
		});
		// The order in which an alarm runs the jobs that are due.
		this.scheduler = new DeadlineScheduler(alarm, [
			this.flush,
			this.housekeeping,
			this.attachments.lapse,
			this.attachments.expiry,
			this.history,
			this.bin,
			this.calls,
			this.delivery,
		]);
	}
}
