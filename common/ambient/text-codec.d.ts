// The WHATWG text codecs, which browsers, workerd and Node all provide. Declared here, for the
// common/ type check only, as far as common/ uses them; each runtime's own tsconfig brings its
// full declarations instead and excludes this file.
declare class TextEncoder {
	encode(input?: string): Uint8Array;
}
declare class TextDecoder {
	constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
	decode(input?: Uint8Array): string;
}
