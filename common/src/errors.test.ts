import { ERROR_DOCS, ErrorCodes, isVigilError, VigilError } from "./errors";

describe("errors - catalogue", () => {
  test("every code is documented and follows the VIGIL_ERR_ naming", () => {
    for (const code of Object.values(ErrorCodes)) {
      expect(code).toMatch(/^VIGIL_ERR_[A-Z_]+$/);
      expect(ERROR_DOCS[code]?.length ?? 0).toBeGreaterThan(10);
    }
    expect(Object.keys(ERROR_DOCS).sort()).toEqual(Object.values(ErrorCodes).sort());
  });

  test("VigilError carries code and cause", () => {
    const cause = new Error("root");
    const error = new VigilError(ErrorCodes.PROTOCOL, "bad", { cause });
    expect(error.code).toBe("VIGIL_ERR_PROTOCOL");
    expect(error.cause).toBe(cause);
    expect(isVigilError(error, ErrorCodes.PROTOCOL)).toBe(true);
    expect(isVigilError(error, ErrorCodes.CONFIG_FILE)).toBe(false);
    expect(isVigilError(cause)).toBe(false);
  });
});
