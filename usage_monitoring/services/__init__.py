"""usage_monitoring services (writes). Each owns its transaction.

* `alerts`: alert CRUD (`alert_create`, `alerts_create`, `alert_update`, `alert_delete`, `alerts_delete`).
* `evaluation`: marking touched subscriptions, evaluating alerts and progressive-billing thresholds.
* `lifetime`: lifetime usage (`lifetime_usage_get`, `lifetime_usage_update`).
"""
