/**
 * Runs an async handler on one item at a time, in the order the items arrived, and says when
 * it has run dry. The handler must not throw.
 */
export class SerialQueue<T> {
	private readonly items: T[] = [];
	private running = false;

	constructor(
		private readonly handle: (item: T) => Promise<void>,
		private readonly idle: () => void,
	) {}

	push(item: T): void {
		this.items.push(item);
		void this.run();
	}

	private async run(): Promise<void> {
		if (this.running) return;
		this.running = true;
		// No await between finding the queue empty and clearing `running`, so an item pushed
		// meanwhile cannot be stranded.
		for (let item = this.items.shift(); item !== undefined; item = this.items.shift()) await this.handle(item);
		this.running = false;
		this.idle();
	}
}
