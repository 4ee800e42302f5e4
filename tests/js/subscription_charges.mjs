// One subscription's charge overrides and the invoice and fee actions through Lago's own JavaScript
// client (`lago-javascript-client`), against a live bxb. Run by
// tests/subscriptions/test_lago_js_client_charge_overrides.py, which starts the server and passes
// LAGO_API_URL, LAGO_API_KEY, SUBSCRIPTION_ID (on a plan whose charge `units` costs 0.01 a unit,
// its metric filtered by region eu/us, beside a pay-in-advance `seats`), DRAFT_INVOICE_ID, FINALIZED_INVOICE_ID and FEE_ID (a fee
// not on an invoice).
import assert from "node:assert/strict";
import { check, client, done, env, lagoError } from "./harness.mjs";

const sub = env("SUBSCRIPTION_ID");

let r = await client.subscriptions.findAllSubscriptionCharges(sub, { page: 1, per_page: 10 });
const parentId = r.data.charges.find((c) => c.code === "units").lago_id;
check("findAllSubscriptionCharges", () => {
  assert.deepEqual(r.data.charges.map((c) => c.code).sort(), ["seats", "units"]);
  assert.equal(r.data.meta.total_count, 2);
});
r = await client.subscriptions.overrideSubscriptionCharge(sub, "units", {
  charge: { properties: { amount: "0.015" }, invoice_display_name: "Units (js)" },
});
const overrideId = r.data.charge.lago_id;
check("overrideSubscriptionCharge", () => {
  assert.equal(r.data.charge.properties.amount, "0.015");
  assert.notEqual(overrideId, parentId);
});
r = await client.subscriptions.findSubscriptionCharge(sub, "units");
check("findSubscriptionCharge", () => assert.equal(r.data.charge.lago_id, overrideId));
r = await client.subscriptions.createSubscriptionChargeFilter(sub, "units", {
  filter: { values: { region: ["eu"] }, properties: { amount: "0.03" }, invoice_display_name: "EU" },
});
const filterId = r.data.filter.lago_id;
check("createSubscriptionChargeFilter", () => assert.deepEqual(r.data.filter.values, { region: ["eu"] }));
r = await client.subscriptions.findAllSubscriptionChargeFilters(sub, "units", { page: 1, per_page: 10 });
check("findAllSubscriptionChargeFilters", () => {
  assert.deepEqual(r.data.filters.map((f) => f.lago_id), [filterId]);
  assert.equal(r.data.meta.total_count, 1);
});
r = await client.subscriptions.findSubscriptionChargeFilter(sub, "units", filterId);
check("findSubscriptionChargeFilter", () => assert.equal(r.data.filter.invoice_display_name, "EU"));
r = await client.subscriptions.updateSubscriptionChargeFilter(sub, "units", filterId, {
  filter: { properties: { amount: "0.04" } },
});
check("updateSubscriptionChargeFilter", () => assert.equal(r.data.filter.properties.amount, "0.04"));
r = await client.subscriptions.destroySubscriptionChargeFilter(sub, "units", filterId);
check("destroySubscriptionChargeFilter", () => assert.equal(r.data.filter.lago_id, filterId));
let error = await lagoError(client.subscriptions.findSubscriptionCharge(sub, "nope"));
check("findSubscriptionCharge unknown: 404", () => assert.equal(error.code, "charge_not_found"));

const draft = env("DRAFT_INVOICE_ID");
const finalized = env("FINALIZED_INVOICE_ID");
error = await lagoError(client.invoices.retryInvoice(draft));
check("retryInvoice of a draft: 405", () => assert.equal(error.code, "invalid_status"));
r = await client.invoices.deleteInvoice(draft);
check("deleteInvoice", () => assert.equal(r.data.invoice.status, "deleted"));
error = await lagoError(client.invoices.deleteInvoice(finalized));
check("deleteInvoice of a finalized invoice: 405", () => assert.equal(error.code, "not_deletable"));
r = await client.invoices.loseDisputeInvoice(finalized);
check("loseDisputeInvoice", () => assert.ok(r.data.invoice.payment_dispute_lost_at));
r = await client.fees.deleteFee(env("FEE_ID"));
check("deleteFee", () => assert.equal(r.data.fee.lago_id, env("FEE_ID")));

done();
