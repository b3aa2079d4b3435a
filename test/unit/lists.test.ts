import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  decodeCursor,
  encodeCursor,
  type ListOrderKey,
} from "../../src/reports/cursor.js";
import {
  searchWords,
  toSearchQuery,
  toSimilarTitleQuery,
} from "../../src/reports/search-query.js";

const ID = "DD-7K2Q-9M4D";
const raw = (text: string) => Buffer.from(text).toString("base64url");

describe("list cursors", () => {
  const roundTrips: [
    ListOrderKey,
    number,
    { value: number; publicId: string },
  ][] = [
    [
      "activity_desc",
      1_767_225_600_000,
      { value: 1_767_225_600_000, publicId: ID },
    ],
    ["submitted_asc", 42, { value: 42, publicId: ID }],
    // The filing order's value is the internal id: never written into the URL.
    ["filing_desc", 9_876, { value: 0, publicId: ID }],
  ];
  for (const [order, value, decoded] of roundTrips) {
    it(`${order}: ${value} comes back as ${decoded.value}`, () => {
      assert.deepEqual(
        decodeCursor(encodeCursor(order, value, ID), order),
        decoded,
      );
    });
  }

  const refused: [string, string, ListOrderKey][] = [
    ["empty", "", "activity_desc"],
    [
      "another order's cursor",
      encodeCursor("submitted_asc", 1, ID),
      "activity_desc",
    ],
    ["too long", "A".repeat(101), "activity_desc"],
    ["not a number", raw(`activity_desc|soon|${ID}`), "activity_desc"],
    ["not a safe integer", raw(`activity_desc|1e300|${ID}`), "activity_desc"],
    ["not a report ID", raw("activity_desc|1|42"), "activity_desc"],
    ["a field too many", raw(`activity_desc|1|${ID}|x`), "activity_desc"],
  ];
  for (const [what, cursor, order] of refused) {
    it(`refuses ${what}`, () =>
      assert.equal(decodeCursor(cursor, order), null));
  }

  it("reads a report ID typed loosely, as the report page does", () => {
    assert.deepEqual(
      decodeCursor(raw("activity_desc|5|dd-7k2q-9m4d"), "activity_desc"),
      { value: 5, publicId: ID },
    );
  });
});

describe("search queries", () => {
  const searches: [string, string[], string | null][] = [
    ["IDOR portal", ["IDOR", "portal"], '"IDOR"* "portal"*'],
    ['" OR title:* NEAR(', ["OR", "title", "NEAR"], '"OR"* "title"* "NEAR"*'],
    ["*", [], null],
    ["   ", [], null],
    ["Ｆｕｌｌ width", ["Full", "width"], '"Full"* "width"*'],
    ["DD-7K2Q-9M4D", ["DD", "7K2Q", "9M4D"], '"DD"* "7K2Q"* "9M4D"*'],
  ];
  for (const [input, words, query] of searches) {
    it(`${JSON.stringify(input)} → ${query}`, () => {
      assert.deepEqual(searchWords(input), words);
      assert.equal(toSearchQuery(input), query);
    });
  }

  it("uses at most twelve words of at most 64 characters", () => {
    const words = searchWords(`${"a".repeat(70)} ${"w ".repeat(20)}`);
    assert.equal(words.length, 12);
    assert.equal(words[0], "a".repeat(64));
  });

  const titles: [string, string | null][] = [
    [
      "IDOR in the appointment portal",
      'title : ("idor" OR "appointment" OR "portal")',
    ],
    ["XSS in a box", null],
    ["Portal portal PORTAL", 'title : ("portal")'],
  ];
  for (const [title, query] of titles) {
    it(`similar titles to ${JSON.stringify(title)}: ${query}`, () =>
      assert.equal(toSimilarTitleQuery(title), query));
  }
});
