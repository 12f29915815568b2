// The README walk-through with openapi-fetch over types that openapi-typescript generated from
// the served /openapi.json (see README.md, "Typed clients"). Every answer is checked.
//   VOUCHSAFE_URL=http://127.0.0.1:8080 VOUCHSAFE_ADMIN_KEY=... node dist/walkthrough.js
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/vouchsafe.js";

type Problem = components["schemas"]["Problem"];

const baseUrl = process.env.VOUCHSAFE_URL ?? "http://127.0.0.1:8080";
const adminKey = process.env.VOUCHSAFE_ADMIN_KEY ?? "";
const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${adminKey}` } });
const run = Math.random().toString(36).slice(2, 8); // ids of this run, so that it can run again

// CRM: customers with zero-party data and consent ; imports as a JSON array (import.json) or as NDJSON (import).
const customer = `c-42-${run}`;
const up = await api.PUT("/v1/customers/{customer_id}", {
  params: { path: { customer_id: customer } },
  body: { birthday: { month: 12, day: 1 }, loyalty_tier: "gold" },
});
assert.equal(up.response.status, 201);
assert.equal(up.data?.loyalty_tier, "gold");
const consent = await api.POST("/v1/customers/{customer_id}/consents", {
  params: { path: { customer_id: customer } },
  body: { purpose: "personalized_offers", granted: true, source: "preference_center", policy_version: "2026-01" },
});
assert.equal(consent.response.status, 201);
const imported = await api.POST("/v1/customers/import.json", {
  body: [{ id: `c-43-${run}`, loyalty_tier: "gold" }, { id: " bad id " }],
});
assert.equal(imported.data?.imported, 1);
assert.equal(imported.data?.rejected[0]?.line, 2);

// A campaign for gold members, and one signed code per consented member.
const created = await api.POST("/v1/campaigns", {
  body: {
    name: `Gold December ${run}`, currency: "EUR",
    segment: { kind: "loyalty_tier", tiers: ["gold"] },
    discount: { type: "percent", percent: 15, max_amount: 3000 },
    min_order: 2000, budget: { max_amount: 500000 },
    expires_at: "2099-01-01T00:00:00Z", code: { prefix: "GOLD" },
  },
});
assert.equal(created.response.status, 201);
const campaign = created.data!.id;
const job = await api.POST("/v1/campaigns/{id}/generations", { params: { path: { id: campaign } } });
assert.equal(job.response.status, 202);
let status = job.data!.status;
while (status === "queued" || status === "running") {
  await new Promise((r) => setTimeout(r, 200));
  const polled = await api.GET("/v1/generations/{job}", { params: { path: { job: job.data!.id } } });
  status = polled.data!.status;
}
assert.equal(status, "done");
const exported = await api.GET("/v1/campaigns/{id}/vouchers", {
  params: { path: { id: campaign }, query: { format: "json" } },
});
assert.equal(exported.response.status, 200);
const voucher = (exported.data as components["schemas"]["VoucherExport"]).items.find(
  (v) => v.customer_id === customer,
);
assert.equal(voucher?.status, "issued");
const code = voucher!.code;

// Checkout: validate, redeem (201), the same order again (200), another order (409).
const order = { id: `o-1-${run}`, amount: 12000, currency: "EUR" };
const valid = await api.POST("/v1/validations", { body: { code, customer_id: customer, order } });
assert.deepEqual([valid.data?.valid, valid.data?.discount], [true, 1800]);
const redeemed = await api.POST("/v1/redemptions", { body: { code, customer_id: customer, order } });
assert.equal(redeemed.response.status, 201);
const again = await api.POST("/v1/redemptions", { body: { code, customer_id: customer, order } });
assert.equal(again.response.status, 200);
assert.equal(again.data?.id, redeemed.data?.id);
const other = await api.POST("/v1/redemptions", {
  body: { code, customer_id: customer, order: { ...order, id: `o-2-${run}` } },
});
const conflict: Problem | undefined = other.error;
assert.equal(other.response.status, 409);
assert.equal(conflict?.code, "already_redeemed");

// A key without the checkout scope is refused with a typed 403 problem.
const key = await api.POST("/v1/keys", { body: { name: `reports-${run}`, scopes: ["reports"] } });
assert.equal(key.response.status, 201);
const reports = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key.data!.secret}` } });
const refused = await reports.POST("/v1/redemptions", { body: { code, customer_id: customer, order } });
const forbidden: Problem | undefined = refused.error;
assert.equal(refused.response.status, 403);
assert.equal(forbidden?.code, "forbidden");

// Marketer: the report, with the reports key.
const report = await reports.GET("/v1/campaigns/{id}/report", { params: { path: { id: campaign } } });
assert.equal(report.response.status, 200);
assert.equal(report.data?.budget.spent, 1800);
assert.equal(report.data?.status, "active");
console.log(`walk-through passed: campaign ${campaign}, code ${code}, report verdict: ${report.data?.verdict.decision}: ${report.data?.verdict.text}`);
