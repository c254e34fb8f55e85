/**
 * A small validating parser for the wire protocol. Every HTTP body and WebSocket frame is
 * parsed through one of these before anything trusts it; types are inferred from the
 * schemas so the validator and the TypeScript types can never drift apart.
 *
 * Hand-rolled rather than a library because it sits on the per-message hot path (frame
 * validation is measured by the benchmark) and because worker, browser and widget bundles
 * all carry it.
 */

export class ValidationError extends Error {
	constructor(
		readonly path: string,
		readonly problem: string,
	) {
		super(`${path || "body"}: ${problem}`);
	}
}

export interface Schema<T> {
	readonly parse: (value: unknown, path: string) => T;
	readonly optional?: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const describe = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "array" : typeof value);

export function string(opts: { min?: number; max: number; pattern?: RegExp }): Schema<string> {
	const min = opts.min ?? 0;
	return {
		parse(value, path) {
			if (typeof value !== "string") throw new ValidationError(path, `expected string, got ${describe(value)}`);
			if (value.length < min || value.length > opts.max) throw new ValidationError(path, `length must be ${min}..${opts.max}`);
			if (opts.pattern && !opts.pattern.test(value)) throw new ValidationError(path, "has an invalid format");
			return value;
		},
	};
}

const B64U = /^[A-Za-z0-9_-]*$/;

/** Length in characters of unpadded base64url for n bytes. */
export const b64uLength = (bytes: number): number => Math.ceil((bytes * 4) / 3);

/** Base64url without padding. Checked by length and alphabet only, never decoded here. */
export function base64url(opts: { bytes: number } | { maxBytes: number; minBytes?: number }): Schema<string> {
	const exact = "bytes" in opts ? b64uLength(opts.bytes) : undefined;
	const max = "bytes" in opts ? b64uLength(opts.bytes) : b64uLength(opts.maxBytes);
	const min = "bytes" in opts ? max : b64uLength(opts.minBytes ?? 0);
	return {
		parse(value, path) {
			if (typeof value !== "string") throw new ValidationError(path, `expected base64url string, got ${describe(value)}`);
			if (exact !== undefined && value.length !== exact) throw new ValidationError(path, `must be ${exact} base64url characters`);
			if (value.length < min || value.length > max) throw new ValidationError(path, "has the wrong size");
			// 4n+1 characters cannot come from any byte string.
			if (value.length % 4 === 1) throw new ValidationError(path, "is not valid base64url");
			if (!B64U.test(value)) throw new ValidationError(path, "is not valid base64url");
			return value;
		},
	};
}

export function integer(opts: { min: number; max: number }): Schema<number> {
	return {
		parse(value, path) {
			if (typeof value !== "number" || !Number.isSafeInteger(value))
				throw new ValidationError(path, `expected integer, got ${describe(value)}`);
			if (value < opts.min || value > opts.max) throw new ValidationError(path, `must be ${opts.min}..${opts.max}`);
			return value;
		},
	};
}

/** A finite number, fractions allowed (for weights and the like; counts are `integer`). */
export function finite(opts: { min: number; max: number }): Schema<number> {
	return {
		parse(value, path) {
			if (typeof value !== "number" || !Number.isFinite(value)) throw new ValidationError(path, `expected number, got ${describe(value)}`);
			if (value < opts.min || value > opts.max) throw new ValidationError(path, `must be ${opts.min}..${opts.max}`);
			return value;
		},
	};
}

export const boolean: Schema<boolean> = {
	parse(value, path) {
		if (typeof value !== "boolean") throw new ValidationError(path, `expected boolean, got ${describe(value)}`);
		return value;
	},
};

export function oneOf<const L extends readonly string[]>(values: L): Schema<L[number]> & { values: L } {
	const allowed = new Set<string>(values);
	return {
		values,
		parse(value, path) {
			if (typeof value !== "string" || !allowed.has(value)) throw new ValidationError(path, `must be one of ${values.join(", ")}`);
			return value as L[number];
		},
	};
}

export function optional<T>(schema: Schema<T>): Schema<T | undefined> & { optional: true } {
	return {
		optional: true,
		parse: (value, path) => (value === undefined ? undefined : schema.parse(value, path)),
	};
}

export function nullable<T>(schema: Schema<T>): Schema<T | null> {
	return { parse: (value, path) => (value === null ? null : schema.parse(value, path)) };
}

export function array<T>(item: Schema<T>, opts: { min?: number; max: number }): Schema<T[]> {
	const min = opts.min ?? 0;
	return {
		parse(value, path) {
			if (!Array.isArray(value)) throw new ValidationError(path, `expected array, got ${describe(value)}`);
			if (value.length < min || value.length > opts.max) throw new ValidationError(path, `must hold ${min}..${opts.max} items`);
			return value.map((v, i) => item.parse(v, `${path}[${i}]`));
		},
	};
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOf<S extends Shape> = Simplify<
	{ [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);

/** Unknown keys are refused, so a typo in a third-party client fails loudly instead of being ignored. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> & { shape: S } {
	const keys = Object.keys(shape);
	return {
		shape,
		parse(value, path) {
			if (!isPlainObject(value)) throw new ValidationError(path, `expected object, got ${describe(value)}`);
			for (const key in value) {
				if (!Object.hasOwn(shape, key)) throw new ValidationError(path ? `${path}.${key}` : key, "is not allowed");
			}
			const out: Record<string, unknown> = {};
			for (const key of keys) {
				const parsed = (shape[key] as Schema<unknown>).parse(value[key], path ? `${path}.${key}` : key);
				if (parsed !== undefined) out[key] = parsed;
			}
			return out as ObjectOf<S>;
		},
	};
}

/**
 * A union discriminated by its `type` field: one lookup, then the member's own schema (each
 * member declares `type: literal(…)` itself, so the inferred union is discriminated).
 */
export function taggedUnion<M extends Record<string, Schema<{ type: string }>>>(members: M): Schema<Infer<M[keyof M]>> & { members: M } {
	return {
		members,
		parse(value, path) {
			if (!isPlainObject(value)) throw new ValidationError(path, `expected object, got ${describe(value)}`);
			const tag = value.type;
			if (typeof tag !== "string" || !Object.hasOwn(members, tag))
				throw new ValidationError(path ? `${path}.type` : "type", "is not a known type");
			return (members[tag] as Schema<Infer<M[keyof M]>>).parse(value, path);
		},
	};
}

export const literal = <const L extends string>(value: L): Schema<L> => oneOf([value] as const);
