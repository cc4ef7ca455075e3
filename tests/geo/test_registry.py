from geo.registry import RegistryUnit, Retired, reconcile


def test_reconcile_lists_units_without_polygon_and_polygons_not_in_the_registry() -> None:
    registry = [
        RegistryUnit("10", "province", None, "กรุงเทพมหานคร", "Bangkok"),
        RegistryUnit("1047", "district", "10", "บางนา", "Bang Na"),
        RegistryUnit("104703", "subdistrict", "1047", "บางนาใต้", "Bang Na Tai"),
        RegistryUnit("104702", "subdistrict", "1047", "บางนาเหนือ", "Bang Na Nuea"),
    ]
    polygons = [("10", "province"), ("1047", "district"), ("104701", "subdistrict")]
    gone = {"104701": Retired("104701", "subdistrict", "2022-04-22", ("104702", "104703"))}
    result = reconcile(polygons, registry, gone)
    assert [u.code for u in result.missing] == ["104702", "104703"]
    assert result.retired == [gone["104701"]]


def test_a_code_is_matched_within_its_level() -> None:
    result = reconcile([("10", "district")], [RegistryUnit("10", "province", None, "x", "x")])
    assert [u.code for u in result.missing] == ["10"]
    assert [r.code for r in result.retired] == ["10"]
