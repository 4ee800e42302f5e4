"""Catalog search, lookup and product detail over the organization's listed plans and add-ons."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_search_lists_only_listed_items_with_prices_and_terms(agent, catalog_items):
    response = agent.post("/catalog/search", {"query": "*"})
    assert response.status_code == 200
    body = response.json()
    assert body["ucp"]["capabilities"] == {"dev.ucp.shopping.catalog.search": [{"version": "2026-04-08"}]}
    ids = [p["id"] for p in body["products"]]
    assert ids == ["plan:pro", "plan:metered", "addon:setup"]
    pro = body["products"][0]
    assert pro["price_range"]["min"] == {"amount": 2000, "currency": "USD"}
    assert pro["variants"][0]["id"] == "plan:pro:v"
    assert pro["metadata"]["billing"] == {
        "interval": "monthly",
        "base_price": {"amount": 2000, "currency": "USD"},
        "base_price_billed": "in_advance",
        "trial_days": 0,
        "usage_charges": [],
    }
    assert "per month" in pro["description"]["plain"]
    assert body["pagination"] == {"has_next_page": False, "total_count": 3}


def test_search_pages_with_a_cursor_and_matches_words(agent, catalog_items):
    first = agent.post("/catalog/search", {"query": "*", "pagination": {"limit": 2}}).json()
    assert len(first["products"]) == 2 and first["pagination"]["has_next_page"] is True
    second = agent.post(
        "/catalog/search", {"query": "*", "pagination": {"limit": 2, "cursor": first["pagination"]["cursor"]}}
    ).json()
    assert [p["id"] for p in second["products"]] == ["addon:setup"]
    assert second["pagination"]["has_next_page"] is False
    assert [p["id"] for p in agent.post("/catalog/search", {"query": "metered"}).json()["products"]] == ["plan:metered"]
    empty = agent.post("/catalog/search", {"query": "zzz"}).json()
    assert empty["products"] == [] and "messages" not in empty
    by_category = agent.post("/catalog/search", {"filters": {"categories": ["add_on"]}}).json()
    assert [p["id"] for p in by_category["products"]] == ["addon:setup"]


def test_search_needs_an_input(agent, catalog_items):
    assert agent.post("/catalog/search", {}).status_code == 400
    assert agent.post("/catalog/search", {"query": "*", "pagination": {"limit": 0}}).status_code == 400


def test_lookup_dedups_and_correlates_inputs(agent, catalog_items):
    body = agent.post("/catalog/lookup", {"ids": ["plan:pro", "plan:pro:v", "plan:pro", "nope"]}).json()
    [product] = body["products"]
    assert product["variants"][0]["inputs"] == [
        {"id": "plan:pro", "match": "featured"},
        {"id": "plan:pro:v", "match": "exact"},
    ]
    assert body["messages"][0]["type"] == "info"
    assert agent.post("/catalog/lookup", {"ids": []}).status_code == 400
    too_many = agent.post("/catalog/lookup", {"ids": [f"x{i}" for i in range(51)]})
    assert too_many.status_code == 400 and too_many.json()["code"] == "request_too_large"


def test_product_detail_and_not_found(agent, catalog_items):
    body = agent.post("/catalog/product", {"id": "addon:setup:v"}).json()
    assert body["product"]["id"] == "addon:setup"
    assert body["product"]["metadata"] == {"kind": "one_off"}
    missing = agent.post("/catalog/product", {"id": "plan:hidden"})
    assert missing.status_code == 200
    assert missing.json()["ucp"]["status"] == "error"
    assert missing.json()["messages"][0]["severity"] == "unrecoverable"
