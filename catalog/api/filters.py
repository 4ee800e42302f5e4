"""Query parameters of the catalog lists (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import LagoFilterSet, ListFilter, TextFilter


class AppliedCouponFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    status = TextFilter(choices=("active", "terminated"))
    coupon_code = ListFilter()
