// @secvisogram/csaf-validator-lib ships JavaScript with JSDoc only; these are
// the parts the advisory-export tests use, typed after its README's API.
declare module "@secvisogram/csaf-validator-lib/validateStrict.js" {
  interface Message {
    message: string;
    instancePath: string;
  }
  type DocumentTest = (doc: unknown) => unknown;
  export default function validateStrict(
    tests: DocumentTest[],
    doc: unknown,
  ): Promise<{
    isValid: boolean;
    tests: {
      name: string;
      isValid: boolean;
      errors: Message[];
      warnings: Message[];
      infos: Message[];
    }[];
  }>;
}

declare module "@secvisogram/csaf-validator-lib/schemaTests.js" {
  export const csaf_2_0: (doc: unknown) => unknown;
  export const csaf_2_0_strict: (doc: unknown) => unknown;
}

// Forty-odd named tests (mandatoryTest_6_1_1 …); used as a whole.
declare module "@secvisogram/csaf-validator-lib/mandatoryTests.js";

declare module "@secvisogram/csaf-validator-lib/cwe.js" {
  export const weaknesses: readonly { id: string; name: string }[];
}
