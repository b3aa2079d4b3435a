/**
 * Words for the benchmark database: names, organizations and report text of
 * realistic shape and length, composed from small pools so a million reports
 * cost little to generate. Not meant to read well, only to be shaped like the
 * real thing (Markdown paragraphs, numbered steps, fenced HTTP requests).
 */

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same database. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T =>
      items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
    /** Skewed towards the start: index i is picked with density ∝ 1/sqrt(i). */
    skewed: (n: number) => Math.min(n - 1, Math.floor(n * next() ** 2)),
    between: (lo: number, hi: number) => lo + next() * (hi - lo),
  };
}
export type Prng = ReturnType<typeof prng>;

const FIRST = [
  "Aisha",
  "Ben",
  "Carla",
  "Dmitri",
  "Elif",
  "Farid",
  "Greta",
  "Hiro",
  "Ines",
  "Jonas",
  "Kavya",
  "Lars",
  "Mei",
  "Nadia",
  "Omar",
  "Priya",
  "Quentin",
  "Rosa",
  "Sven",
  "Tariq",
  "Uma",
  "Viktor",
  "Wen",
  "Ximena",
  "Yusuf",
  "Zoe",
  "Arjun",
  "Bea",
  "Chen",
  "Dalia",
  "Emeka",
  "Fatima",
  "Gabriel",
  "Hana",
  "Ivan",
  "Jana",
];
const LAST = [
  "Okafor",
  "Schmidt",
  "Rossi",
  "Ivanova",
  "Yilmaz",
  "Haddad",
  "Lindqvist",
  "Tanaka",
  "Moreau",
  "Berg",
  "Sharma",
  "Nielsen",
  "Wang",
  "Petrova",
  "Aziz",
  "Iyer",
  "Dubois",
  "Garcia",
  "Larsen",
  "Khan",
  "Mehta",
  "Novak",
  "Li",
  "Lopez",
  "Demir",
  "Fischer",
  "Kowalski",
  "Silva",
  "Nakamura",
  "Mensah",
  "Costa",
];

export function personName(rng: Prng): string {
  return `${rng.pick(FIRST)} ${rng.pick(LAST)}`;
}

const ORG_KINDS = [
  "Regional Hospital",
  "Ministry of Health",
  "City Council",
  "Water Utility",
  "University",
  "Tax Agency",
  "Central Bank",
  "Rail Operator",
  "Energy Grid",
  "Post Office",
  "Land Registry",
  "Social Insurance Fund",
  "Police Service",
  "Airport Authority",
  "Telecom",
  "Pension Fund",
  "Health Insurance",
  "School District",
  "Court Service",
  "Customs Office",
];
const PLACES = [
  "North",
  "South",
  "East",
  "West",
  "Central",
  "Coastal",
  "Highland",
  "Lakeside",
  "Riverside",
  "Metropolitan",
  "Valley",
  "Harbour",
  "Capital",
  "Eastern Province",
  "Western Province",
  "Mountain",
  "Delta",
  "Island",
  "Border",
  "Plains",
  "Forest",
  "Bay",
  "Upper",
  "Lower",
  "New",
];

/** The n-th organization name (unique for n < PLACES × ORG_KINDS × 2). */
export function organizationName(n: number): string {
  const kind = ORG_KINDS[n % ORG_KINDS.length]!;
  const place = PLACES[Math.floor(n / ORG_KINDS.length) % PLACES.length]!;
  const series = Math.floor(n / (ORG_KINDS.length * PLACES.length));
  return series === 0 ? `${place} ${kind}` : `${place} ${kind} ${series + 1}`;
}

export function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

const COMPONENTS = [
  "appointment lookup",
  "patient portal",
  "password reset",
  "file download",
  "invoice export",
  "search endpoint",
  "profile page",
  "admin dashboard",
  "document upload",
  "login form",
  "API gateway",
  "mobile app backend",
  "payment callback",
  "report generator",
  "message inbox",
  "SSO callback",
  "GraphQL endpoint",
  "image proxy",
  "webhook receiver",
  "PDF renderer",
];
const FLAWS: Record<string, string> = {
  "CWE-639": "IDOR",
  "CWE-79": "Stored XSS",
  "CWE-89": "SQL injection",
  "CWE-352": "CSRF",
  "CWE-22": "Path traversal",
  "CWE-862": "Missing authorization",
  "CWE-918": "SSRF",
  "CWE-434": "Unrestricted file upload",
  "CWE-200": "Information disclosure",
  "CWE-601": "Open redirect",
  "CWE-287": "Authentication bypass",
  "CWE-611": "XXE",
};
const CONSEQUENCES = [
  "exposes other users' records",
  "lets any signed-in user read all bookings",
  "allows account takeover",
  "leaks personal data of citizens",
  "allows reading arbitrary files",
  "exposes internal services",
  "allows changing other users' data",
  "reveals medical records",
  "lets an attacker act as an administrator",
  "discloses payment details",
];

export function title(rng: Prng, cwe: string): string {
  const flaw = FLAWS[cwe] ?? "Vulnerability";
  return `${flaw} in ${rng.pick(COMPONENTS)} ${rng.pick(CONSEQUENCES)}`;
}

export function asset(rng: Prng, host: string): string {
  const paths = [
    "/api/v1/appointments",
    "/portal/records",
    "/account/reset",
    "/files/download",
    "/invoices/export",
    "/search",
    "/admin",
    "/upload",
    "/graphql",
    "/sso/callback",
    "/webhooks/payment",
    "/render/pdf",
  ];
  return `https://${host}${rng.pick(paths)}`;
}

const SENTENCES = [
  "While testing the {c} I noticed that the server trusts an identifier taken straight from the request.",
  "Changing the numeric `id` parameter by one returns a record that belongs to somebody else.",
  "The response contains the full name, date of birth, national ID number and contact details of the record owner.",
  "No additional authorization check is performed on the server side; the session only proves that *some* user is signed in.",
  "I stopped after confirming the issue on two records and did not download or keep any data.",
  "The identifiers are sequential, so the whole data set could be enumerated with a simple script in a few hours.",
  "The same pattern appears to exist in the export function, which returns a PDF for any identifier.",
  "The application sets no `Cache-Control` header on these responses, so shared proxies may keep copies.",
  "Input placed in the comment field is stored and later rendered without escaping in the administrators' view.",
  "A request with a crafted `Host` header makes the reset email link point to an attacker-controlled domain.",
  "The upload handler only checks the file extension, so an `.html` file renamed to `.png` is served back as HTML.",
  "Error messages include stack traces with internal host names and library versions.",
  "The SSO callback accepts a `redirect_uri` outside the allowed list if it starts with the expected prefix.",
  "Rate limiting is absent on the one-time code endpoint, so a six-digit code can be guessed within the validity window.",
  "The issue was reproduced from two different networks and with two separate test accounts.",
  "I am happy to retest once a fix is deployed and to coordinate the disclosure date with you.",
  "Tested with a current Firefox and with curl; no automated scanner was used against production.",
  "The behaviour is consistent across the web interface and the mobile application's API.",
];

function paragraph(rng: Prng, component: string, sentences: number): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++)
    out.push(rng.pick(SENTENCES).replace("{c}", component));
  return out.join(" ");
}

/** A Markdown description of about 0.8 to 2.5 KB with a fenced request. */
export function description(rng: Prng, url: string): string {
  const component = rng.pick(COMPONENTS);
  const parts = [
    `## Summary\n\n${paragraph(rng, component, 2 + rng.int(3))}`,
    `## Details\n\n${paragraph(rng, component, 3 + rng.int(4))}`,
    "```http\nGET " +
      new URL(url).pathname +
      `?id=${100000 + rng.int(900000)} HTTP/1.1\nHost: ${new URL(url).host}\nCookie: session=<redacted>\nAccept: application/json\n` +
      "```",
  ];
  if (rng.chance(0.6)) parts.push(paragraph(rng, component, 2 + rng.int(4)));
  if (rng.chance(0.3))
    parts.push(
      `- affected parameter: \`id\`\n- tested on: ${new Date(Date.UTC(2024, rng.int(12), 1 + rng.int(28))).toISOString().slice(0, 10)}\n- authentication: any researcher account`,
    );
  return parts.join("\n\n");
}

const STEPS = [
  "Sign in with any ordinary account at {u}.",
  "Open the browser's developer tools and go to the Network tab.",
  "Open one of your own records and note the request made to the API.",
  "Repeat that request with the `id` parameter increased by one.",
  "Observe that the response contains another person's record.",
  "Submit the form with the payload `<img src=x onerror=alert(1)>` in the comment field.",
  "Sign in as an administrator in another browser and open the list of comments.",
  "Request the reset link and intercept the request with a proxy.",
  "Change the `Host` header to a domain you control and forward the request.",
  "Upload the prepared file and open the returned link.",
  "Compare the response with the one for your own record.",
];

/** Numbered steps, 3 to 8 of them. */
export function steps(rng: Prng, url: string): string {
  const n = 3 + rng.int(6);
  const out: string[] = [];
  for (let i = 1; i <= n; i++)
    out.push(`${i}. ${rng.pick(STEPS).replace("{u}", url)}`);
  return out.join("\n");
}

const IMPACTS = [
  "An attacker with any account can read the personal data of every user of the service.",
  "About {n} records are reachable this way, including health information.",
  "The flaw can be used to take over administrator accounts and change data.",
  "Exposure of this data violates the data-protection obligations of the organization.",
  "Exploitation needs no special skill and leaves little trace in the logs.",
  "Combined with the missing rate limit, the whole database can be copied in hours.",
];

export function impact(rng: Prng, records: number | null): string {
  const n = 1 + rng.int(3);
  const out: string[] = [];
  for (let i = 0; i < n; i++)
    out.push(
      rng
        .pick(IMPACTS)
        .replace("{n}", (records ?? 10000).toLocaleString("en-GB")),
    );
  return out.join(" ");
}

const COMMENTS = [
  "Thanks for the quick reply. I have attached the exact request and response headers.",
  "Is there an update from the organization? The disclosure deadline is approaching.",
  "I retested from a fresh account and the behaviour is unchanged.",
  "We have forwarded your question to the vendor and will update this report.",
  "The organization asks for two more weeks to deploy the fix to all regions.",
  "Confirmed: the new version returns *403 Forbidden* for other users' records.",
];
const NOTES = [
  "Vendor contact is slow to answer; escalate through the sector CERT if no reply by Friday.",
  "Possible duplicate of an older report on the same portal; checked, different endpoint.",
  "Severity agreed with the vendor's security team on the call.",
];
const MESSAGES: Record<string, string[]> = {
  request_info: [
    "Could you send the exact request, with the response headers, and the time you made it?",
    "Which account type did you use? We cannot reproduce this with a patient account.",
  ],
  provide_info: [
    "Here are the request and the response (personal data redacted). It was a standard patient account.",
  ],
  close: [
    "Thank you for the report. Closing as described in the resolution.",
    "Closing: the organization confirms the fix and the researcher verified it.",
  ],
  reject_fix: ["The old endpoint is still reachable under `/api/v0/`."],
};

export function comment(rng: Prng): string {
  return rng.pick(COMMENTS);
}
export function note(rng: Prng): string {
  return rng.pick(NOTES);
}
export function transitionMessage(rng: Prng, action: string): string | null {
  const pool = MESSAGES[action];
  return pool && rng.chance(0.7) ? rng.pick(pool) : null;
}
