// Fixed charges through Lago's own JavaScript client (`lago-javascript-client`), against a live bxb.
// Run by tests/catalog/test_lago_js_client_fixed_charges.py, which starts the server and passes
// LAGO_API_URL, LAGO_API_KEY, PLAN_CODE (a plan with no fixed charge), ADD_ON_CODE and SUBSCRIPTION_ID
// (a subscription of that plan). Every client method of plan and subscription fixed charges is called.
import assert from "node:assert/strict";
import { check, client, done, env, lagoError } from "./harness.mjs";

const plan = env("PLAN_CODE");
const addOn = env("ADD_ON_CODE");
const sub = env("SUBSCRIPTION_ID");

let r = await client.plans.createPlanFixedCharge(plan, {
  fixed_charge: {
    add_on_code: addOn,
    code: "seats",
    charge_model: "graduated",
    units: 12,
    pay_in_advance: false,
    prorated: true,
    properties: {
      graduated_ranges: [
        { from_value: 0, to_value: 10, per_unit_amount: "5", flat_amount: "0" },
        { from_value: 11, to_value: null, per_unit_amount: "4", flat_amount: "1" },
      ],
    },
  },
});
check("createPlanFixedCharge", () => {
  assert.equal(r.data.fixed_charge.code, "seats");
  assert.equal(r.data.fixed_charge.units, 12);
  assert.equal(r.data.fixed_charge.add_on_code, addOn);
  assert.equal(r.data.fixed_charge.properties.graduated_ranges.length, 2);
});
r = await client.plans.findAllPlanFixedCharges(plan, { page: 1, per_page: 10 });
check("findAllPlanFixedCharges", () => {
  assert.deepEqual(r.data.fixed_charges.map((f) => f.code), ["seats"]);
  assert.equal(r.data.meta.total_count, 1);
});
r = await client.plans.findPlanFixedCharge(plan, "seats");
check("findPlanFixedCharge", () => assert.equal(r.data.fixed_charge.prorated, true));
r = await client.plans.updatePlanFixedCharge(plan, "seats", { fixed_charge: { invoice_display_name: "Seats" } });
check("updatePlanFixedCharge", () => assert.equal(r.data.fixed_charge.invoice_display_name, "Seats"));

r = await client.subscriptions.findAllSubscriptionFixedCharges(sub, { page: 1, per_page: 10 });
check("findAllSubscriptionFixedCharges", () => {
  assert.deepEqual(r.data.fixed_charges.map((f) => [f.code, f.units]), [["seats", 12]]);
});
r = await client.subscriptions.overrideSubscriptionFixedCharge(sub, "seats", {
  fixed_charge: { units: 25, apply_units_immediately: true },
});
check("overrideSubscriptionFixedCharge (units)", () => assert.equal(r.data.fixed_charge.units, 25));
r = await client.subscriptions.overrideSubscriptionFixedCharge(sub, "seats", {
  fixed_charge: { invoice_display_name: "Team seats" },
});
check("overrideSubscriptionFixedCharge (price: the subscription's own copy)", () => {
  assert.equal(r.data.fixed_charge.invoice_display_name, "Team seats");
  assert.ok(r.data.fixed_charge.lago_parent_id);
});
r = await client.subscriptions.findSubscriptionFixedCharge(sub, "seats");
check("findSubscriptionFixedCharge", () => {
  assert.equal(r.data.fixed_charge.units, 25);
  assert.equal(r.data.fixed_charge.invoice_display_name, "Team seats");
});
const invalid = await lagoError(
  client.subscriptions.overrideSubscriptionFixedCharge(sub, "seats", { fixed_charge: { units: -1 } }),
);
check("overrideSubscriptionFixedCharge refuses negative units", () => {
  assert.equal(invalid.status, 422);
  assert.deepEqual(invalid.error_details, { units: ["value_is_invalid"] });
});

r = await client.plans.destroyPlanFixedCharge(plan, "seats", {});
check("destroyPlanFixedCharge", () => assert.equal(r.data.fixed_charge.code, "seats"));
const missing = await lagoError(client.plans.findPlanFixedCharge(plan, "seats"));
check("a deleted fixed charge is not found", () => {
  assert.equal(missing.status, 404);
  assert.equal(missing.code, "fixed_charge_not_found");
});

done();
