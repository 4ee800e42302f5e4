// A customer's lists and wallets, wallet traceability, projected usage and the invoice collection
// and usage analytics through Lago's own JavaScript client (`lago-javascript-client`), against a
// live bxb. Run by tests/customers/test_lago_js_client_routes.py, which starts the server, builds
// the data and passes LAGO_API_URL, LAGO_API_KEY, CUSTOMER_ID, SUBSCRIPTION_ID, INBOUND_ID
// and OUTBOUND_ID. Any failed check exits non-zero.
import assert from "node:assert/strict";
import { check, client, done, env, lagoError } from "./harness.mjs";

const customer = env("CUSTOMER_ID");

// --- a customer's lists -----------------------------------------------------------------------
const lists = {
  findAllCustomerInvoices: "invoices",
  findAllCustomerSubscriptions: "subscriptions",
  findAllCustomerCreditNotes: "credit_notes",
  findAllCustomerPayments: "payments",
  findAllCustomerPaymentRequests: "payment_requests",
  findAllCustomerAppliedCoupons: "applied_coupons",
  findAllCustomerWallets: "wallets",
};
for (const [method, key] of Object.entries(lists)) {
  const r = await client.customers[method](customer, { page: 1, per_page: 20 });
  check(method, () => {
    assert.ok(r.data[key].length >= 1, `${key} is empty`);
    assert.equal(r.data.meta.current_page, 1);
  });
}
const unknown = await lagoError(client.customers.findAllCustomerInvoices("nobody", {}));
check("findAllCustomerInvoices 404", () => assert.equal(unknown.code, "customer_not_found"));

// --- a customer's wallet by code --------------------------------------------------------------
let r = await client.customers.createCustomerWallet(customer, {
  wallet: { rate_amount: "1", code: "js_wallet", name: "JS", granted_credits: "4" },
});
check("createCustomerWallet", () => assert.equal(r.data.wallet.credits_balance, "4.0"));
r = await client.customers.findCustomerWallet(customer, "js_wallet");
check("findCustomerWallet", () => assert.equal(r.data.wallet.code, "js_wallet"));
r = await client.customers.updateCustomerWallet(customer, "js_wallet", { wallet: { name: "Renamed" } });
check("updateCustomerWallet", () => assert.equal(r.data.wallet.name, "Renamed"));
r = await client.customers.replaceCustomerWalletMetadata(customer, "js_wallet", { metadata: { a: "1", b: "2" } });
check("replaceCustomerWalletMetadata", () => assert.deepEqual(r.data.metadata, { a: "1", b: "2" }));
r = await client.customers.mergeCustomerWalletMetadata(customer, "js_wallet", { metadata: { c: "3" } });
check("mergeCustomerWalletMetadata", () => assert.deepEqual(r.data.metadata, { a: "1", b: "2", c: "3" }));
r = await client.customers.deleteCustomerWalletMetadataKey(customer, "js_wallet", "a");
check("deleteCustomerWalletMetadataKey", () => assert.deepEqual(r.data.metadata, { b: "2", c: "3" }));
r = await client.customers.deleteAllCustomerWalletMetadata(customer, "js_wallet");
check("deleteAllCustomerWalletMetadata", () => assert.deepEqual(r.data.metadata, {}));

// --- wallet traceability ----------------------------------------------------------------------
r = await client.walletTransactions.findAllWalletTransactionConsumptions(env("INBOUND_ID"), {});
check("findAllWalletTransactionConsumptions", () => {
  const [row] = r.data.wallet_transaction_consumptions;
  assert.equal(row.wallet_transaction.lago_id, env("OUTBOUND_ID"));
  assert.equal(typeof row.amount_cents, "number");
});
r = await client.walletTransactions.findAllWalletTransactionFundings(env("OUTBOUND_ID"), {});
check("findAllWalletTransactionFundings", () =>
  assert.ok(r.data.wallet_transaction_fundings.some((f) => f.wallet_transaction.lago_id === env("INBOUND_ID"))),
);
const refused = await lagoError(client.walletTransactions.walletTransactionPaymentUrl(env("INBOUND_ID")));
check("walletTransactionPaymentUrl of a granted line: 422", () =>
  assert.deepEqual(refused.error_details, { base: ["wallet_transaction_not_purchased"] }),
);

// --- projected usage, analytics ---------------------------------------------------------------
r = await client.customers.findCustomerProjectedUsage(customer, {
  external_subscription_id: env("SUBSCRIPTION_ID"),
});
check("findCustomerProjectedUsage", () => {
  const usage = r.data.customer_projected_usage;
  assert.equal(typeof usage.projected_amount_cents, "number");
  const [charge] = usage.charges_usage;
  assert.ok(Number(charge.projected_units) >= Number(charge.units));
  assert.ok(charge.projected_amount_cents >= charge.amount_cents);
});
r = await client.analytics.findAllInvoiceCollections({ months: 1 });
check("findAllInvoiceCollections", () => assert.ok(r.data.invoice_collections.some((c) => c.invoices_count > 0)));
r = await client.analytics.findAllUsages({ time_granularity: "monthly" });
check("findAllUsages", () => assert.ok(Array.isArray(r.data.usages)));

done();
