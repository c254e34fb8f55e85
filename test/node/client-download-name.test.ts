import { describe, expect, it } from "vitest";
import { safeFileName } from "../../client/app/download-name.ts";

describe("the name a received file is shown and saved under", () => {
	it("keeps an ordinary name as it is", () => {
		expect(safeFileName("holiday photo.jpg")).toBe("holiday photo.jpg");
		expect(safeFileName("Résumé 2026.pdf")).toBe("Résumé 2026.pdf");
	});

	it("removes the bidirectional overrides and invisible characters that disguise an extension", () => {
		expect(safeFileName("photo\u202Egpj.exe")).toBe("photogpj.exe");
		expect(safeFileName("in\u2066voice\u2069.pdf\u200B")).toBe("invoice.pdf");
		expect(safeFileName("a\u0000b\u001Fc\u007F.txt")).toBe("abc.txt");
		expect(safeFileName("line\nbreak\u2028.txt")).toBe("linebreak.txt");
	});

	it("makes paths and the characters Windows refuses into plain characters", () => {
		expect(safeFileName("../../etc/passwd")).toBe("_.._etc_passwd");
		expect(safeFileName("..\\..\\boot.ini")).toBe("_.._boot.ini");
		expect(safeFileName('what?<is>:"this"|*.txt')).toBe("what__is___this___.txt");
	});

	it("does not hide the file, name a device, or come out empty", () => {
		expect(safeFileName(".bashrc")).toBe("bashrc");
		expect(safeFileName("report.pdf. . ")).toBe("report.pdf");
		expect(safeFileName("CON")).toBe("_CON");
		expect(safeFileName("lpt1.txt")).toBe("_lpt1.txt");
		expect(safeFileName("\u202E\u202E")).toBe("file");
		expect(safeFileName("")).toBe("file");
	});

	it("shortens a long name but keeps its extension, without splitting a character", () => {
		const long = safeFileName(`${"😀".repeat(200)}.jpeg`);
		expect(long.endsWith(".jpeg")).toBe(true);
		expect(Array.from(long).length).toBeLessThanOrEqual(120);
		expect(long).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
	});
});
