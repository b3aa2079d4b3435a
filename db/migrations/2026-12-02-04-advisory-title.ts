// Frozen in time: a migration imports no app code.
// An advisory's title is written by the CERT, never taken from the
// researcher's report. Advisories saved before this get the title the form
// now suggests (the weakness's CWE catalog name and the organization), built
// here from a copy of the catalog names as they were on this date.
import { Kysely } from "kysely";

const CWE_NAMES: Readonly<Record<string, string>> = {
  "CWE-79":
    "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')",
  "CWE-787": "Out-of-bounds Write",
  "CWE-89":
    "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')",
  "CWE-352": "Cross-Site Request Forgery (CSRF)",
  "CWE-22":
    "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')",
  "CWE-125": "Out-of-bounds Read",
  "CWE-78":
    "Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')",
  "CWE-416": "Use After Free",
  "CWE-862": "Missing Authorization",
  "CWE-434": "Unrestricted Upload of File with Dangerous Type",
  "CWE-94": "Improper Control of Generation of Code ('Code Injection')",
  "CWE-20": "Improper Input Validation",
  "CWE-77":
    "Improper Neutralization of Special Elements used in a Command ('Command Injection')",
  "CWE-287": "Improper Authentication",
  "CWE-269": "Improper Privilege Management",
  "CWE-502": "Deserialization of Untrusted Data",
  "CWE-200": "Exposure of Sensitive Information to an Unauthorized Actor",
  "CWE-863": "Incorrect Authorization",
  "CWE-918": "Server-Side Request Forgery (SSRF)",
  "CWE-119":
    "Improper Restriction of Operations within the Bounds of a Memory Buffer",
  "CWE-476": "NULL Pointer Dereference",
  "CWE-798": "Use of Hard-coded Credentials",
  "CWE-190": "Integer Overflow or Wraparound",
  "CWE-400": "Uncontrolled Resource Consumption",
  "CWE-306": "Missing Authentication for Critical Function",
  "CWE-639": "Authorization Bypass Through User-Controlled Key",
  "CWE-284": "Improper Access Control",
  "CWE-285": "Improper Authorization",
  "CWE-601": "URL Redirection to Untrusted Site ('Open Redirect')",
  "CWE-611": "Improper Restriction of XML External Entity Reference",
  "CWE-613": "Insufficient Session Expiration",
  "CWE-307": "Improper Restriction of Excessive Authentication Attempts",
  "CWE-521": "Weak Password Requirements",
  "CWE-522": "Insufficiently Protected Credentials",
  "CWE-319": "Cleartext Transmission of Sensitive Information",
  "CWE-312": "Cleartext Storage of Sensitive Information",
  "CWE-327": "Use of a Broken or Risky Cryptographic Algorithm",
  "CWE-384": "Session Fixation",
  "CWE-1021": "Improper Restriction of Rendered UI Layers or Frames",
  "CWE-942": "Permissive Cross-domain Policy with Untrusted Domains",
  "CWE-1336":
    "Improper Neutralization of Special Elements Used in a Template Engine",
  "CWE-917":
    "Improper Neutralization of Special Elements used in an Expression Language Statement ('Expression Language Injection')",
  "CWE-915":
    "Improperly Controlled Modification of Dynamically-Determined Object Attributes",
  "CWE-209": "Generation of Error Message Containing Sensitive Information",
  "CWE-532": "Insertion of Sensitive Information into Log File",
  "CWE-640": "Weak Password Recovery Mechanism for Forgotten Password",
};

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("advisories").addColumn("title", "text").execute();
  const rows = await db
    .selectFrom("advisories as a")
    .innerJoin("reports as r", "r.id", "a.report_id")
    .leftJoin("organizations as o", "o.id", "r.organization_id")
    .select(["a.report_id", "r.cwe", "o.name as organization"])
    .execute();
  for (const row of rows) {
    const weakness = CWE_NAMES[row.cwe] ?? "Vulnerability";
    await db
      .updateTable("advisories")
      .set({
        title: row.organization
          ? `${weakness} in ${row.organization}`
          : weakness,
      })
      .where("report_id", "=", row.report_id)
      .execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("advisories").dropColumn("title").execute();
}
