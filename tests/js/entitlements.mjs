// Features and entitlements through Lago's own JavaScript client (`lago-javascript-client`),
// against a live bxb. Run by tests/entitlements/test_lago_js_client.py, which starts the server
// and passes LAGO_API_URL, LAGO_API_KEY, PLAN_CODE, SUBSCRIPTION_ID and METRIC_CODE.
// Every client method of features and entitlements is called; any failed check exits non-zero.
import assert from "node:assert/strict";
import { check, client, done, env, lagoError } from "./harness.mjs";

const plan = env("PLAN_CODE");
const sub = env("SUBSCRIPTION_ID");
const metric = env("METRIC_CODE");
const privileges = (entitlement) =>
  Object.fromEntries(entitlement.privileges.map((p) => [p.code, p.value]));
const byCode = (entitlements) => Object.fromEntries(entitlements.map((e) => [e.code, privileges(e)]));

// --- features ---------------------------------------------------------------------------
let r = await client.features.createFeature({
  feature: {
    code: "seats",
    name: "Number of seats",
    description: "Users of the account",
    privileges: [
      { code: "max", name: "Maximum", value_type: "integer" },
      { code: "root", name: "Allow root user", value_type: "boolean" },
      { code: "provider", value_type: "select", config: { select_options: ["google", "okta"] } },
      { code: "note" },
    ],
  },
});
check("createFeature", () => {
  assert.equal(r.data.feature.code, "seats");
  assert.deepEqual(r.data.feature.privileges.map((p) => p.value_type), ["integer", "boolean", "select", "string"]);
});
await client.features.createFeature({
  feature: {
    code: "api",
    name: "API",
    privileges: [{ code: "calls", value_type: "integer", billable_metric_code: metric }],
  },
});
r = await client.features.findAllFeatures({ search_term: "seat", page: 1, per_page: 10 });
check("findAllFeatures", () => {
  assert.deepEqual(r.data.features.map((f) => f.code), ["seats"]);
  assert.equal(r.data.meta.total_count, 1);
});
r = await client.features.findFeature("seats");
check("findFeature", () => assert.equal(r.data.feature.description, "Users of the account"));
r = await client.features.updateFeature("seats", {
  feature: { name: "Seats", privileges: [{ code: "provider", config: { select_options: ["azure"] } }] },
});
check("updateFeature", () => {
  assert.equal(r.data.feature.name, "Seats");
  const provider = r.data.feature.privileges.find((p) => p.code === "provider");
  assert.deepEqual(provider.config.select_options, ["google", "okta", "azure"]);
});
r = await client.features.deleteFeaturePrivilege("seats", "note");
check("deleteFeaturePrivilege", () =>
  assert.deepEqual(r.data.feature.privileges.map((p) => p.code), ["max", "root", "provider"]),
);
const missing = await lagoError(client.features.findFeature("nope"));
check("findFeature 404 in Lago's shape", () =>
  assert.deepEqual(missing, { status: 404, error: "Not Found", code: "feature_not_found" }),
);

// --- plan entitlements --------------------------------------------------------------------
r = await client.plans.createEntitlement(plan, {
  entitlements: { seats: { max: 10, root: true, provider: "google" }, api: { calls: 100 } },
});
check("createEntitlement", () =>
  assert.deepEqual(byCode(r.data.entitlements), {
    seats: { max: 10, root: true, provider: "google" },
    api: { calls: 100 },
  }),
);
r = await client.plans.updateEntitlement(plan, { entitlements: { seats: { max: 12 } } });
check("updateEntitlement", () => assert.equal(byCode(r.data.entitlements).seats.max, 12));
r = await client.plans.findAllEntitlements(plan);
check("findAllEntitlements", () => assert.deepEqual(r.data.entitlements.map((e) => e.code), ["seats", "api"]));
r = await client.plans.findEntitlement(plan, "seats");
check("findEntitlement", () => assert.deepEqual(privileges(r.data.entitlement), { max: 12, root: true, provider: "google" }));
r = await client.plans.removeEntitlementPrivilege(plan, "seats", "root");
check("removeEntitlementPrivilege", () => assert.deepEqual(privileges(r.data.entitlement), { max: 12, provider: "google" }));
const invalid = await lagoError(client.plans.updateEntitlement(plan, { entitlements: { seats: { provider: "azure2" } } }));
check("updateEntitlement 422 in Lago's shape", () =>
  assert.deepEqual(invalid.error_details, { provider_privilege_value: ["value_not_in_select_options"] }),
);

// --- subscription entitlements --------------------------------------------------------------
r = await client.subscriptions.findAllSubscriptionEntitlements(sub, {});
check("findAllSubscriptionEntitlements", () => {
  assert.deepEqual(byCode(r.data.entitlements), { seats: { max: 12, provider: "google" }, api: { calls: 100 } });
  const calls = r.data.entitlements[1].privileges[0];
  assert.equal(calls.usage.limit, 100);
  assert.equal(calls.usage.current_usage, "0");
});
r = await client.subscriptions.updateSubscriptionEntitlements(sub, { entitlements: { seats: { max: 15 }, api: { calls: 3 } } }, {});
check("updateSubscriptionEntitlements", () => {
  const seats = r.data.entitlements.find((e) => e.code === "seats");
  assert.deepEqual(seats.overrides, { max: 15 });
  const max = seats.privileges.find((p) => p.code === "max");
  assert.equal(max.plan_value, 12);
  assert.equal(max.override_value, 15);
  assert.equal(max.value, 15);
});
// Usage against the overridden limit: two events of the metered action.
for (const id of ["tx_js_1", "tx_js_2"]) {
  await client.events.createEvent({ event: { transaction_id: id, code: metric, external_subscription_id: sub } });
}
r = await client.subscriptions.findAllSubscriptionEntitlements(sub, {});
check("usage so far and remaining", () => {
  const calls = r.data.entitlements.find((e) => e.code === "api").privileges[0];
  assert.equal(calls.usage.current_usage, "2");
  assert.equal(calls.usage.remaining, "1");
  assert.equal(calls.usage.exceeded, false);
});
r = await client.subscriptions.destroySubscriptionEntitlementPrivilege(sub, "seats", "provider", {});
check("destroySubscriptionEntitlementPrivilege", () =>
  assert.deepEqual(byCode(r.data.entitlements).seats, { max: 15 }),
);
r = await client.subscriptions.destroySubscriptionEntitlement(sub, "seats", {});
check("destroySubscriptionEntitlement", () => assert.deepEqual(r.data.entitlements.map((e) => e.code), ["api"]));
const noSub = await lagoError(client.subscriptions.findAllSubscriptionEntitlements("nope", {}));
check("findAllSubscriptionEntitlements 404", () => assert.equal(noSub.code, "subscription_not_found"));

// --- deletes ----------------------------------------------------------------------------------
r = await client.plans.destroyEntitlement(plan, "seats");
check("destroyEntitlement", () => assert.equal(r.data.entitlement.code, "seats"));
r = await client.features.destroyFeature("seats");
check("destroyFeature", () => assert.equal(r.data.feature.code, "seats"));
r = await client.features.findAllFeatures({});
check("features left", () => assert.deepEqual(r.data.features.map((f) => f.code), ["api"]));

done();
