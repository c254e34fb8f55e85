/** What a device sends sealed: its routing fields, as the relay reads them. */
interface Sealed {
	id: string;
	to: string;
	kind: string;
	keyVersion?: number;
	nonce?: string;
	box?: string;
}

/**
 * The header the relay puts on a sealed frame it passes on: who sent it and from which
 * device (which only the relay can vouch for), and the frame's own routing fields. The
 * receiving client checks it against the copy sealed inside, so the relay cannot re-route it.
 */
export function routingHeader<F extends Sealed>(frame: F, from: string, fromDevice: string) {
	return {
		id: frame.id,
		from,
		fromDevice,
		to: frame.to,
		kind: frame.kind as F["kind"],
		keyVersion: frame.keyVersion as F["keyVersion"],
		nonce: frame.nonce as F["nonce"],
		box: frame.box as F["box"],
	};
}
