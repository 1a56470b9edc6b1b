"""Price books: the shipped figures match LICENSING.md, and bad files fail clearly.

Fast unit tests of ``load_price_book``: transcription of every figure (price, confidence,
attach price, minimum seats, request entitlement), the era's ``as_of`` date picking the
Team Members version on sale, overrides, the monthly-billing surcharge, and error
messages that name the file, line and field.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from models.licensing import PriceBookError
from sim.catalogue import ERAS, price_book_file
from sim.scenario.pricebooks import load_price_book

# (era, SKU id, price, confidence, attach price or None, min seats), read off
# shared/domain/LICENSING.md section 1 and 2: ms -> verified, 3p -> third_party.
LICENSING_MD = [
    ("2017", "plan_1", 115, "unverified", None, 1),
    ("2017", "plan_2", 210, "unverified", None, 20),
    ("2017", "unified_operations_plan", 190, "unverified", None, 1),
    ("2017", "sales_enterprise", 95, "unverified", None, 1),
    ("2017", "operations_full", 190, "unverified", None, 20),
    ("2017", "operations_activity", 50, "third_party", None, 1),
    ("2017", "operations_device", 75, "unverified", None, 1),
    ("2017", "team_members_launch", 40, "unverified", None, 1),
    ("2017", "team_members", 8, "third_party", None, 1),
    ("2017", "sales_professional", 65, "verified", None, 1),
    ("2019", "sales_enterprise", 95, "third_party", 20, 1),
    ("2019", "sales_professional", 65, "verified", None, 1),
    ("2019", "finance", 180, "third_party", 30, 20),
    ("2019", "supply_chain_management", 180, "third_party", 30, 20),
    ("2019", "operations_activity", 50, "third_party", None, 1),
    ("2019", "operations_device", 75, "unverified", None, 1),
    ("2019", "team_members", 8, "third_party", None, 1),
    ("current", "sales_professional", 65, "verified", None, 1),
    ("current", "sales_enterprise", 105, "verified", 20, 1),
    ("current", "sales_premium", 150, "verified", None, 1),
    ("current", "finance", 210, "third_party", 30, 20),
    ("current", "supply_chain_management", 210, "third_party", 30, 20),
    ("current", "finance_premium", 300, "third_party", None, 20),
    ("current", "supply_chain_management_premium", 300, "third_party", None, 20),
    ("current", "operations_activity", 50, "third_party", None, 1),
    ("current", "operations_device", 75, "unverified", None, 1),
    ("current", "team_members", 8, "third_party", None, 1),
]

# Requests per licence per rolling 24 h, LICENSING.md section 3. The 2017 book carries the
# earliest published column (2019 - 2020): enterprise 20,000, professional 10,000, TM 5,000.
REQUESTS_PER_DAY = {
    ("2017", "plan_2"): 20_000,
    ("2017", "sales_professional"): 10_000,
    ("2017", "team_members_launch"): 5_000,
    ("2019", "sales_enterprise"): 20_000,
    ("2019", "sales_professional"): 10_000,
    ("2019", "finance"): 20_000,
    ("2019", "team_members"): 5_000,
    ("current", "sales_enterprise"): 40_000,
    ("current", "sales_professional"): 40_000,
    ("current", "finance"): 40_000,
    ("current", "operations_activity"): 40_000,
    ("current", "operations_device"): 40_000,
    ("current", "team_members"): 6_000,
}


def _all_skus(era: str):
    """Every SKU in the era's file, whatever its sale dates (by loading at both ends)."""
    early = load_price_book(era, as_of={"2017": date(2017, 6, 1)}.get(era))
    late = load_price_book(era, as_of={"2017": date(2019, 9, 30)}.get(era))
    return {sku.id: sku for sku in early.skus + late.skus}


@pytest.mark.parametrize("era", ERAS)
def test_every_shipped_sku_is_in_the_licensing_table_with_a_source(era):
    skus = _all_skus(era)
    expected = {row[1] for row in LICENSING_MD if row[0] == era}
    assert set(skus) == expected
    for sku in skus.values():
        assert sku.source.strip(), sku.id
        assert sku.confidence in ("verified", "third_party", "unverified")


@pytest.mark.parametrize(
    ("era", "sku_id", "price", "confidence", "attach", "min_seats"), LICENSING_MD
)
def test_price_confidence_attach_and_minimum_seats_match_licensing_md(
    era, sku_id, price, confidence, attach, min_seats
):
    sku = _all_skus(era)[sku_id]
    assert sku.price_usd_month == price
    assert sku.confidence == confidence
    assert sku.min_seats == min_seats
    if attach is None:
        assert sku.attach is None
    else:
        assert sku.attach is not None and sku.attach.price_usd_month == attach
        assert sku.attach.confidence == "third_party"


@pytest.mark.parametrize(("era", "sku_id"), sorted(REQUESTS_PER_DAY))
def test_daily_request_entitlement_per_licence_matches_section_3(era, sku_id):
    assert _all_skus(era)[sku_id].requests_per_day == REQUESTS_PER_DAY[(era, sku_id)]


def test_the_tenant_pool_for_integration_users_follows_section_3():
    current = load_price_book("current").requests.tenant_pool
    assert (current.base_requests_per_day, current.per_base_licence_requests_per_day) == (
        500_000,
        5_000,
    )
    assert current.max_requests_per_day == 10_000_000
    assert current.capacity_addon_requests_per_day == 50_000
    earlier = load_price_book("2019").requests.tenant_pool
    assert earlier.base_requests_per_day == 100_000
    assert earlier.capacity_addon_requests_per_day == 10_000


def test_the_2017_book_sells_the_40_dollar_team_members_until_september_2018():
    book = load_price_book("2017")  # as_of 2017-06-01, from the file
    assert book.as_of == date(2017, 6, 1)
    assert book.has("team_members_launch") and not book.has("team_members")
    assert book.price_usd_month("team_members_launch") == 40
    assert not book.has("sales_professional")  # mid 2018


def test_the_2017_book_as_of_october_2018_sells_the_8_dollar_team_members():
    book = load_price_book("2017", as_of=date(2018, 10, 1))
    assert book.has("team_members") and not book.has("team_members_launch")
    assert book.price_usd_month("team_members") == 8
    assert book.has("sales_professional")


def test_as_of_outside_the_era_is_refused():
    with pytest.raises(PriceBookError, match=r"as_of 2020-01-01 is outside era 2017"):
        load_price_book("2017", as_of=date(2020, 1, 1))


def test_overrides_change_prices_and_are_listed_with_old_and_new():
    book = load_price_book("current", {"finance": 150, "sales_enterprise.attach": 15.5})
    assert book.price_usd_month("finance") == 150
    assert book.price_usd_month("sales_enterprise", "attach") == 15.5
    assert book.overridden == {"finance": (210, 150), "sales_enterprise.attach": (20, 15.5)}
    # the base + attach rule keeps comparing list prices
    assert book.list_price_usd_month("finance") == 210
    assert load_price_book("current").overridden == {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dynamics_gp": 10}, r"no SKU 'dynamics_gp'.*finance"),
        ({"finance": -1}, r"'finance': price must be >= 0"),
        ({"finance": "cheap"}, r"'finance': price must be a number"),
        ({"team_members.attach": 1}, r"team_members has no attach offer"),
        ({"finance.base": 1}, r"write '<sku id>' or '<sku id>.attach'"),
    ],
)
def test_bad_overrides_are_refused_by_name(overrides, message):
    with pytest.raises(PriceBookError, match=message):
        load_price_book("current", overrides)


def test_overriding_a_sku_not_on_sale_at_as_of_is_refused():
    with pytest.raises(PriceBookError, match=r"team_members is not on sale as of 2017-06-01"):
        load_price_book("2017", {"team_members": 5})


def test_monthly_billing_costs_5_percent_more_since_april_2025():
    book = load_price_book("current", billed_monthly=True)  # as_of 2025-05-01
    assert book.price_usd_month("sales_enterprise") == pytest.approx(105 * 1.05)
    assert book.price_usd_month("finance", "attach") == pytest.approx(30 * 1.05)
    before = load_price_book("current", as_of=date(2025, 3, 31), billed_monthly=True)
    assert before.price_usd_month("sales_enterprise") == 105
    assert load_price_book("2019", billed_monthly=True).price_usd_month("finance") == 180


# ---- loader errors: a broken file names the file, the line and the field ----------------


def _broken_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    text = price_book_file("current").read_text()
    assert old in text
    broken = text.replace(old, new, 1)
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    return path, broken


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def test_a_price_of_the_wrong_type_names_the_file_line_field_and_sku(tmp_path):
    path, text = _broken_copy(tmp_path, "price_usd_month: 105", "price_usd_month: ninety")
    with pytest.raises(PriceBookError) as caught:
        load_price_book(path)
    message = str(caught.value)
    line = _line_of(text, "price_usd_month: ninety")
    assert f"{path}:{line}: skus[1].price_usd_month (SKU sales_enterprise)" in message
    assert "valid number" in message and "'ninety'" in message


def test_an_unknown_key_is_named_with_its_line(tmp_path):
    path, text = _broken_copy(
        tmp_path, "    min_seats: 20\n", "    min_seats: 20\n    minimum: 5\n"
    )
    with pytest.raises(PriceBookError) as caught:
        load_price_book(path)
    line = _line_of(text, "minimum: 5")
    assert f"{path}:{line}: skus[3].minimum (SKU finance): unknown key" in str(caught.value)


def test_a_missing_key_is_named(tmp_path):
    path, _ = _broken_copy(tmp_path, "    kind: device\n", "")
    with pytest.raises(
        PriceBookError, match=r"skus\[8\]\.kind \(SKU operations_device\): required"
    ):
        load_price_book(path)


def test_a_quoted_number_is_a_type_error_not_silently_a_price(tmp_path):
    path, _ = _broken_copy(tmp_path, "price_usd_month: 65", 'price_usd_month: "65"')
    with pytest.raises(PriceBookError, match=r"skus\[0\]\.price_usd_month.*valid number"):
        load_price_book(path)


def test_an_unknown_access_level_in_a_grant_is_named(tmp_path):
    path, text = _broken_copy(
        tmp_path, "access: [read, light_task]", "access: [read, scan_barcodes]"
    )
    with pytest.raises(PriceBookError) as caught:
        load_price_book(path)
    line = _line_of(text, "scan_barcodes")
    assert f":{line}: skus[8].rights[0].access" in str(caught.value)
    assert "scan_barcodes" in str(caught.value)


def test_a_device_licence_offered_as_an_attach_is_refused(tmp_path):
    path, _ = _broken_copy(
        tmp_path,
        "    kind: device\n",
        "    kind: device\n    attach: {price_usd_month: 10, confidence: unverified, source: x}\n",
    )
    with pytest.raises(PriceBookError, match=r"operations_device: device licences cannot be"):
        load_price_book(path)


def test_duplicate_sku_ids_are_refused(tmp_path):
    path, _ = _broken_copy(tmp_path, "id: sales_premium", "id: sales_enterprise")
    with pytest.raises(PriceBookError, match=r"duplicate SKU ids \['sales_enterprise'\]"):
        load_price_book(path)


def test_a_capped_grant_must_count_one_access_level(tmp_path):
    path, _ = _broken_copy(
        tmp_path, "access: [write], max_entities: 15", "access: [read, write], max_entities: 15"
    )
    with pytest.raises(PriceBookError, match=r"max_entities must list exactly one access"):
        load_price_book(path)


def test_an_unknown_era_or_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(PriceBookError, match=r"no price book '2031'"):
        load_price_book("2031")
    bad = tmp_path / "list.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(PriceBookError, match=r"a price book is a mapping"):
        load_price_book(bad)


# ---- where price books come from ---------------------------------------------------------


def test_the_licensing_model_reads_no_files_and_imports_neither_yaml_nor_sim():
    """Price books are data passed in: only sim.scenario.pricebooks reads the files."""
    import ast

    package = Path(__file__).resolve().parent.parent / "models" / "licensing"
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 6
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert not imported & {"yaml", "pathlib", "sim", "simpy", "os", "io"}, module.name
        calls = {
            getattr(node.func, "attr", getattr(node.func, "id", None))
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        assert not calls & {"read_text", "read_bytes", "open"}, module.name


def test_every_named_book_is_found_through_one_function(tmp_path, monkeypatch):
    """Redirecting sim.catalogue.price_book_file moves load_price_book with it, and the
    file is read by sim.scenario.pricebooks (its name becomes the book's source)."""
    import sim.catalogue as catalogue

    copy = tmp_path / "current.yaml"
    copy.write_text(price_book_file("current").read_text().replace("title: ", "title: moved ", 1))
    monkeypatch.setattr(catalogue, "price_book_file", lambda era: copy)
    book = load_price_book("current")
    assert book.title.startswith("moved ") and book.source == str(copy)


# ------------------------------------- the confidence of a minimum (issue 12 point 11)


def test_every_minimum_above_one_carries_its_confidence_and_source():
    """LICENSING.md section 2 quotes the 20-seat minimum for Finance/SCM only per LCS
    project (any full users) and the 2016 one without a source: none is verified."""
    for era in ERAS:
        for sku in _all_skus(era).values():
            if sku.min_seats > 1:
                assert sku.min_seats_confidence == "unverified", (era, sku.id)
                assert "LICENSING.md section" in sku.min_seats_source
            else:
                assert sku.min_seats_confidence is None and sku.min_seats_source is None


def test_a_minimum_without_its_confidence_is_refused_with_its_line(tmp_path):
    path, text = _broken_copy(tmp_path, "    min_seats_confidence: unverified\n", "")
    with pytest.raises(PriceBookError) as caught:
        load_price_book(path)
    message = str(caught.value)
    assert str(path) in message and "(SKU finance)" in message
    assert "finance: min_seats 20 needs min_seats_confidence" in message


def test_a_confidence_for_no_minimum_is_refused(tmp_path):
    path, _ = _broken_copy(
        tmp_path,
        "    min_seats: 1\n",
        "    min_seats: 1\n    min_seats_confidence: verified\n    min_seats_source: a page\n",
    )
    with pytest.raises(
        PriceBookError,
        match="sales_professional: min_seats_confidence and "
        "min_seats_source describe a minimum above 1",
    ):
        load_price_book(path)


def test_entries_list_each_figure_with_its_provenance_and_without_drops_one():
    book = load_price_book("current", {"sales_enterprise": 100.0})
    entries = {entry.key: entry for entry in book.entries()}
    assert (entries["finance"].value, entries["finance"].confidence) == (210.0, "third_party")
    assert (entries["finance.attach"].value, entries["finance.attach"].kind) == (
        30.0,
        "attach_price",
    )
    assert (entries["finance.min_seats"].value, entries["finance.min_seats"].confidence) == (
        20.0,
        "unverified",
    )
    assert "sales_professional.min_seats" not in entries  # no minimum, no entry
    assert entries["sales_enterprise"].verified  # an override is the user's own figure
    assert not book.without("finance").has("finance")
    assert book.without("finance.attach").sku("finance").attach is None
    relaxed = book.without("finance.min_seats")
    assert relaxed.sku("finance").min_seats == 1 and book.sku("finance").min_seats == 20
    with pytest.raises(ValueError, match="has no minimum"):
        book.without("sales_professional.min_seats")


def test_a_price_book_edited_on_disk_is_read_again_not_remembered(tmp_path):
    # Parsed books are kept by file name and whole text: an edit must show at once.
    path = tmp_path / "book.yaml"
    text = price_book_file("current").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    before = load_price_book(path)
    assert before.list_prices_usd_month["sales_professional"] == 65
    path.write_text(text.replace("price_usd_month: 65", "price_usd_month: 66", 1), "utf-8")
    assert load_price_book(path).list_prices_usd_month["sales_professional"] == 66
    path.write_text(text.replace("price_usd_month: 65", "price_usd_month: -1", 1), "utf-8")
    with pytest.raises(PriceBookError, match=rf"{path}:41: "):
        load_price_book(path)
