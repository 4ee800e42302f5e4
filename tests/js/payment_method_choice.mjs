// Choosing the payment method (Lago's `payment_method` object) of a subscription, a one-off
// invoice, a wallet and its recurring rule, a top-up and a retry, through Lago's own JavaScript
// client against a live bxb. Run by tests/payments/test_lago_clients_payment_method.py, which starts
// the server and the fake Stripe and passes LAGO_API_URL, LAGO_API_KEY, CUSTOMER_ID and
// PAYMENT_METHOD_ID (a saved card of that customer). Any failed check exits non-zero.
import assert from "node:assert/strict";
import { check, client, done, env, lagoError } from "./harness.mjs";

const customer = env("CUSTOMER_ID");
const card = { payment_method_type: "provider", payment_method_id: env("PAYMENT_METHOD_ID") };
const manual = { payment_method_type: "manual" };

let r = await client.subscriptions.createSubscription({
  subscription: { external_customer_id: customer, plan_code: "lc-basic", external_id: "js-pm-sub", payment_method: card },
});
check("createSubscription payment_method", () => assert.deepEqual(r.data.subscription.payment_method, card));
r = await client.subscriptions.updateSubscription("js-pm-sub", { subscription: { payment_method: manual } });
check("updateSubscription manual", () =>
  assert.deepEqual(r.data.subscription.payment_method, { ...manual, payment_method_id: null }),
);
const invalid = await lagoError(
  client.subscriptions.updateSubscription("js-pm-sub", {
    subscription: { payment_method: { payment_method_type: "provider", payment_method_id: "1a901a90-1a90-1a90-1a90-1a901a901a90" } },
  }),
);
check("updateSubscription foreign method 422", () =>
  assert.deepEqual(invalid.error_details, { payment_method: ["invalid_payment_method"] }),
);

r = await client.invoices.createInvoice({
  invoice: { external_customer_id: customer, currency: "USD", fees: [{ add_on_code: "lc-setup" }], payment_method: card },
});
const oneOff = r.data.invoice.lago_id;
r = await client.invoices.findInvoice(oneOff);
check("createInvoice collected with the chosen card", () => assert.equal(r.data.invoice.payment_status, "succeeded"));

r = await client.wallets.createWallet({
  wallet: {
    external_customer_id: customer, rate_amount: "1", currency: "USD", code: "js-pm-w", payment_method: manual,
    recurring_transaction_rules: [{ trigger: "interval", interval: "monthly", paid_credits: "5", payment_method: card }],
  },
});
const wallet = r.data.wallet;
check("createWallet payment_method and its rule's", () => {
  assert.equal(wallet.payment_method.payment_method_type, "manual");
  assert.deepEqual(wallet.recurring_transaction_rules[0].payment_method, card);
});
r = await client.wallets.updateWallet(wallet.lago_id, { wallet: { payment_method: card } });
check("updateWallet payment_method", () => assert.deepEqual(r.data.wallet.payment_method, card));
r = await client.walletTransactions.createWalletTransaction({
  wallet_transaction: { wallet_id: wallet.lago_id, paid_credits: "3", payment_method: manual },
});
const [purchase] = r.data.wallet_transactions;
check("createWalletTransaction manual", () => assert.equal(purchase.payment_method.payment_method_type, "manual"));
r = await client.invoices.findInvoice(purchase.lago_invoice_id);
check("a manual top-up's invoice waits", () => assert.equal(r.data.invoice.payment_status, "pending"));
r = await client.invoices.retryPayment(purchase.lago_invoice_id, { payment_method: card });
r = await client.invoices.findInvoice(purchase.lago_invoice_id);
check("retryPayment with the chosen card", () => assert.equal(r.data.invoice.payment_status, "succeeded"));
done();
