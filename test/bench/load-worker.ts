/**
 * A load thread: holds a share of the benchmark's pairs of devices (both devices of a pair in
 * the same thread), connects them, and runs the workloads the main thread asks for. Sending
 * and receiving happen here so the client side's crypto and JSON stay off the main thread
 * and spread over threads.
 */
import { PerformanceObserver, performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { type Device, type DeviceCounters, FloorDevice, newCounters, RelayDevice, registerPair } from "./devices.ts";
import { CLIENT_LAG_MS, type LoadCommand, type LoadReply, type LoadWorkerData, type RunReport } from "./load-protocol.ts";
import { now, Recorder } from "./recorder.ts";

const config = workerData as LoadWorkerData;
const recorder = new Recorder();
const counters = newCounters();
/** The devices of every pair this thread holds, connected or not. */
const pairs = new Map<number, [Device, Device]>();
const connected = new Map<number, [Device, Device]>();

const SETUP_ATTEMPTS = 3;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Run `task` over `items` with at most `limit` at a time. */
async function forEachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
		while (next < items.length) await task(items[next++] as T);
	});
	await Promise.all(lanes);
}

const floorId = (pair: number, side: string) => `f${side}${String(pair).padStart(20, "0")}`;

async function addPairs(indices: number[], prefix: string): Promise<void> {
	await forEachLimited(indices, config.concurrency, async (pair) => {
		if (config.kind === "floor") {
			const [a, b] = [floorId(pair, "a"), floorId(pair, "b")];
			pairs.set(pair, [
				new FloorDevice(config.url, a, b, recorder, config.frameLength, config.acks === true),
				new FloorDevice(config.url, b, a, recorder, config.frameLength, config.acks === true),
			]);
			return;
		}
		// A connection the relay dropped mid-setup (seen under heavy load on wrangler dev) costs a
		// fresh pair rather than the run: the accounts of a failed attempt are left unused.
		for (let attempt = 1; ; attempt++) {
			try {
				pairs.set(
					pair,
					await registerPair(config.url, `${prefix}${pair}${attempt > 1 ? `r${attempt}` : ""}`, recorder, counters, config.textBytes),
				);
				return;
			} catch (err) {
				if (attempt >= SETUP_ATTEMPTS) throw err;
				await sleep(200 * attempt);
			}
		}
	});
}

async function connect(indices: number[]): Promise<void> {
	await forEachLimited(indices, config.concurrency, async (pair) => {
		const devices = pairs.get(pair);
		if (!devices) throw new Error(`pair ${pair} is not held by this thread`);
		connected.set(pair, devices);
		await Promise.all(devices.map((d) => d.connect()));
	});
}

/** Close the connected devices of `only` (every one without it) for good; their pairs are done with. */
function disconnect(only?: number[]): void {
	for (const pair of only ?? [...connected.keys()]) {
		const devices = connected.get(pair);
		if (!devices) continue;
		for (const d of devices) d.close();
		connected.delete(pair);
		pairs.delete(pair);
	}
}

function devicesOf(pair: number): [Device, Device] {
	const devices = connected.get(pair);
	if (!devices) throw new Error(`pair ${pair} is not connected in this thread`);
	return devices;
}

/** Resolves at the next arrival at `device`, or false after `timeoutMs`. */
function nextArrival(device: Device, timeoutMs: number): Promise<boolean> {
	return new Promise((resolve) => {
		const timer = setTimeout(() => {
			device.onArrival = null;
			resolve(false);
		}, timeoutMs);
		device.onArrival = () => {
			clearTimeout(timer);
			device.onArrival = null;
			resolve(true);
		};
	});
}

/** Send one message and wait for it to arrive (and, on the relay, for the sender's `sent`), each at most `timeoutMs`. */
async function sendAndWait(from: Device, to: Device, timeoutMs: number): Promise<void> {
	const arrived = nextArrival(to, timeoutMs);
	if (from instanceof RelayDevice) {
		const confirmed = from.sendText().catch(() => {});
		await arrived;
		await Promise.race([confirmed, sleep(timeoutMs)]);
	} else {
		from.send();
		await arrived;
	}
}

/**
 * Wait until every send started has been confirmed by the relay, every message sent has
 * arrived and (on the relay) the SDK has opened each one, or `timeoutMs` passed: nothing of a
 * run may spill into the next.
 */
async function drain(timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const { sent, arrived } = recorder.counts();
		let unconfirmed = 0;
		for (const devices of connected.values()) for (const d of devices) unconfirmed += d.unconfirmed;
		if (unconfirmed === 0 && arrived >= sent && (config.kind === "floor" || counters.opened >= arrived)) return;
		await sleep(20);
	}
}

/** Exponentially distributed gap for a Poisson process of `rate` per second, in ms. */
const poissonGapMs = (rate: number) => (-Math.log(1 - Math.random()) / rate) * 1000;

async function paced(pairs: number[], ratePerDevice: number, durationMs: number): Promise<number> {
	const devices = pairs.flatMap(devicesOf);
	// Every send of the run, in time order: [offset ms, device].
	const schedule: Array<[number, Device]> = [];
	for (const device of devices) {
		for (let t = poissonGapMs(ratePerDevice); t < durationMs; t += poissonGapMs(ratePerDevice)) schedule.push([t, device]);
	}
	schedule.sort((x, y) => x[0] - y[0]);
	const start = now();
	let i = 0;
	while (i < schedule.length) {
		const elapsed = now() - start;
		while (i < schedule.length && (schedule[i] as [number, Device])[0] <= elapsed) (schedule[i++] as [number, Device])[1].send();
		if (i < schedule.length) await sleep(Math.max(0, (schedule[i] as [number, Device])[0] - (now() - start)));
	}
	return schedule.length;
}

async function saturate(pairs: number[], window: number, durationMs: number): Promise<number> {
	let running = true;
	let sent = 0;
	const send = (device: Device) => {
		if (!running) return;
		sent++;
		device.send();
	};
	for (const pair of pairs) {
		const [a, b] = devicesOf(pair);
		// An arrival at one side frees a place in the other side's window.
		a.onArrival = () => send(b);
		b.onArrival = () => send(a);
	}
	for (const pair of pairs) for (const device of devicesOf(pair)) for (let k = 0; k < window; k++) send(device);
	await sleep(durationMs);
	running = false;
	for (const pair of pairs) for (const device of devicesOf(pair)) device.onArrival = null;
	return sent;
}

async function run(command: LoadCommand): Promise<RunReport | undefined> {
	switch (command.op) {
		case "addPairs":
			await addPairs(command.pairs, command.prefix);
			return;
		case "connect":
			await connect(command.pairs);
			return;
		case "disconnect":
			disconnect(command.pairs);
			return;
		case "touch": {
			const [a] = devicesOf(command.pair);
			if (a instanceof RelayDevice) await a.touch();
			return;
		}
		case "flushCredits":
			for (const pair of command.pairs)
				for (const device of devicesOf(pair)) if (device instanceof RelayDevice) await device.flushCredits();
			return;
		case "stop":
			disconnect();
			setImmediate(() => process.exit(0));
			return;
		default:
			return measure(command);
	}
}

/** How often the stall trace's timer should fire. */
const LAG_TICK_MS = 2;

/**
 * Records when this thread's event loop was held up for CLIENT_LAG_MS or more (a timer that should
 * fire every LAG_TICK_MS comes late) and which of those a garbage collection explains.
 */
function traceClientStalls(): () => Array<[number, number, boolean]> {
	const stalls: Array<[number, number, boolean]> = [];
	const collections: Array<[number, number]> = [];
	// performance's times count from this thread's origin; `now()` is the process's monotonic clock.
	const origin = now() - performance.now();
	const observer = new PerformanceObserver((list) => {
		for (const e of list.getEntries()) collections.push([origin + e.startTime, e.duration]);
	});
	observer.observe({ entryTypes: ["gc"] });
	let last = now();
	const timer = setInterval(() => {
		const at = now();
		if (at - last >= LAG_TICK_MS + CLIENT_LAG_MS) stalls.push([last + LAG_TICK_MS, at - last - LAG_TICK_MS, false]);
		last = at;
	}, LAG_TICK_MS);
	return () => {
		clearInterval(timer);
		observer.disconnect();
		// A stall is a collection's if one of at least half its length ran inside it.
		for (const stall of stalls) {
			const [start, ms] = stall;
			stall[2] = collections.some(([at, d]) => d >= ms / 2 && at < start + ms && at + d > start);
		}
		return stalls;
	};
}

async function measure(command: Extract<LoadCommand, { op: "sequential" | "paced" | "saturate" | "wake" }>): Promise<RunReport> {
	const stopTrace = command.op === "paced" && command.traceClient ? traceClientStalls() : null;
	recorder.take();
	resetCounters(counters);
	const loopBefore = performance.eventLoopUtilization();
	const start = now();
	let scheduled = 0;
	// Closed-loop runs end with everything arrived; the wait is for the SDK to open the last ones.
	let drainMs = 5000;
	switch (command.op) {
		case "sequential": {
			const [a, b] = devicesOf(command.pair);
			for (let k = 0; k < command.count; k++) {
				await sendAndWait(a, b, command.timeoutMs);
				if (command.gapMs > 0) await sleep(command.gapMs);
			}
			scheduled = command.count;
			break;
		}
		case "wake": {
			for (const pair of command.pairs) {
				const [a, b] = devicesOf(pair);
				await sendAndWait(a, b, command.timeoutMs);
			}
			scheduled = command.pairs.length;
			break;
		}
		case "paced":
			scheduled = await paced(command.pairs, command.ratePerDevice, command.durationMs);
			drainMs = command.drainMs;
			break;
		case "saturate":
			scheduled = await saturate(command.pairs, command.window, command.durationMs);
			drainMs = command.drainMs;
			break;
	}
	const elapsedMs = now() - start;
	await drain(drainMs);
	const clientBusy = performance.eventLoopUtilization(loopBefore).utilization;
	const clientStalls = stopTrace?.();
	return {
		...(clientStalls && { clientStalls }),
		samples: recorder.take(),
		scheduled,
		elapsedMs,
		clientBusy,
		opened: counters.opened,
		failed: counters.failed,
		undecryptable: counters.undecryptable,
		errors: counters.errors,
	};
}

/** Counters are shared with the connected devices, so they are reset in place. */
function resetCounters(c: DeviceCounters): void {
	c.opened = 0;
	c.failed = 0;
	c.undecryptable = 0;
	c.errors = [];
}

parentPort?.on("message", (command: LoadCommand) => {
	const started = now();
	run(command).then(
		(report) => parentPort?.postMessage({ ok: true, ...(report && { report }), ms: now() - started } satisfies LoadReply),
		(err: unknown) =>
			parentPort?.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies LoadReply),
	);
});
