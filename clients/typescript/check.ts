// Type-checks the TypeScript types that openapi-typescript generates from openapi/openapi.json.
//
// clients/run.sh generates `schema.d.ts` next to a copy of this file and runs `tsc --noEmit --strict`. The
// literals below are real answers of the server (seeded Aarhus data, clients/smoke.py's run), so the
// generated types must accept what the server really sends, and the request types what it really takes.

import type { components, operations, paths } from "./schema";

type Schemas = components["schemas"];
type Json = "application/json; charset=utf-8";

type SearchResponse = operations["searchServices"]["responses"][200]["content"][Json];
type SearchHit = Schemas["SearchHit"];
type SearchQuery = operations["searchServices"]["parameters"]["query"];
type Referral = Schemas["Referral"];
type ReferralStatus = Schemas["ReferralStatus"];
type ReferralInput = Schemas["ReferralInput"];
type TransitionInput = Schemas["TransitionInput"];
type Problem = Schemas["Problem"];
type GetReferral = paths["/v1/referrals/{id}"]["get"];
type HsdsServicePage = operations["hsdsListServices"]["responses"][200]["content"]["application/json"];

// GET /v1/search?q=lektie&lat=56.16&lon=10.2&per_page=1 → items[0]
const hit: SearchHit = {
  capacity: null,
  distance_km: 0.27,
  free: true,
  gender: "any",
  highlight: "Frivillige hjælper børn og unge med <mark>lektier</mark> hjemme hos familien eller på biblioteket",
  id: "940e972b-37ba-5e57-a8f8-dcbb98ed9de2",
  languages: ["ar", "da", "fa", "ps", "ti", "uk"],
  location: {
    address: { address_1: "Vestergade 58", city: "Aarhus C", postal_code: "8000" },
    id: "a03b216f-dd97-5981-a48a-60839292c077",
    latitude: 56.1578,
    longitude: 10.2018,
    name: "Dansk Flygtningehjælp Frivillignet Aarhus",
  },
  maximum_age: 18,
  minimum_age: 6,
  name: "Lektiehjælp for flygtningebørn",
  needs: ["education-homework", "education-homework/homework-cafe"],
  organization: { id: "763d11a4-b624-508f-9a67-aec7aac57705", name: "Dansk Flygtningehjælp Frivillignet Aarhus" },
  score: 2.27469801902771,
  why: {
    distance_km: 0.27,
    in_service_area: false,
    matched_terms: ["lektie"],
    needs: ["education-homework", "education-homework/homework-cafe"],
    text: {
      da: "Uddannelse og lektiehjælp · 270 m fra jer · for 6–18 år · gratis",
      en: "Education and homework help · 270 m from you · ages 6–18 · free",
    },
  },
};

const page: SearchResponse = {
  facets: { language: { da: 27, en: 5 }, need: { "food-clothing": 23 } },
  items: [hit],
  page: 1,
  per_page: 1,
  total: 27,
};

// A plain text search, as GET /v1/search?q=mad answers it (200): `need` is optional on the server.
const textOnly: SearchQuery = { q: "mad" };
const filtered: SearchQuery = { near: "8000", need: ["food-clothing"], age: 9, free: true, gender: "any" };

// A referral the partner rejected (GET /v1/referrals as the partner → items[n]).
const referral: Referral = {
  allowed_transitions: [],
  closed_at: "2026-12-01T20:12:22.408494381+00:00",
  consent: { given_at: "2026-12-01T20:12:20.609915+00:00", scope: "referral" },
  contact_preference: "phone",
  created_at: "2026-12-01T20:12:22.347749341+00:00",
  family_hash: null,
  first_response_at: "2026-12-01T20:12:22.408494381+00:00",
  goal_kinds: [],
  held_from: null,
  id: "12f41fa2-9be0-431f-a664-c4c85a592693",
  message: "Familien ønsker rådgivning",
  needs: ["housing"],
  organization_id: "a7c5b66c-4fdc-56b7-a34b-fff6de163f07",
  preferred_language: "da",
  priority: "routine",
  purged_at: null,
  rejection_reason: "not-eligible",
  sender_key_id: "55ee75b4-a2e3-49ca-b177-958a98024110",
  service_id: "1bfcec27-de19-488c-82e6-dad6965c8196",
  status: "rejected",
  updated_at: "2026-12-01T20:12:22.408494381+00:00",
  version: 3,
};

// Every status of the state machine, and no other: adding or renaming one in the spec breaks this switch.
function isClosed(status: ReferralStatus): boolean {
  switch (status) {
    case "requested":
    case "received":
    case "accepted":
    case "in-progress":
    case "on-hold":
      return false;
    case "rejected":
    case "completed":
    case "failed":
    case "cancelled":
      return true;
    default: {
      const unknown: never = status;
      return unknown;
    }
  }
}

const newReferral: ReferralInput = {
  service_id: referral.service_id,
  family_ref: "SAG-2026-0042",
  consent: { given_at: "2026-12-01T10:00:00Z", scope: "referral" },
  needs: ["housing"],
  priority: "urgent",
};
const accept: TransitionInput = { to: "accepted", version: referral.version };
const complete: TransitionInput = { to: "completed", goal_outcome: "yes", note: null };

// POST /v1/organizations {"name": "", "kind": "ngo"} → 422
const invalid: Problem = {
  detail: "1 invalid field(s)",
  errors: [{ path: "name", reason: "must not be empty" }],
  instance: "/v1/organizations",
  status: 422,
  title: "Unprocessable Entity",
  type: "https://brobygger.example.org/problems/validation",
};

// GET /v1/services/00000000-0000-0000-0000-000000000000 → 404: no `errors` outside validation problems.
const notFound: Problem = {
  detail: "service 00000000-0000-0000-0000-000000000000 not found",
  instance: "/v1/services/00000000-0000-0000-0000-000000000000",
  status: 404,
  title: "Not Found",
  type: "https://brobygger.example.org/problems/not-found",
};

function describe(problem: Problem): string {
  const fields = (problem.errors ?? []).map((e) => `${e.path}: ${e.reason}`);
  return [`${problem.status} ${problem.title}`, problem.detail, ...fields].join(" | ");
}

function referralFrom(answer: GetReferral["responses"][200]["content"][Json]): string {
  return `${answer.id} ${answer.status}${isClosed(answer.status) ? " (closed)" : ""}`;
}

function firstHsdsService(body: HsdsServicePage): string | undefined {
  return body.contents[0]?.name;
}

export const checked = [
  page.items[0].why.text,
  textOnly,
  filtered,
  referralFrom(referral),
  newReferral,
  accept,
  complete,
  describe(invalid),
  describe(notFound),
  firstHsdsService,
];
