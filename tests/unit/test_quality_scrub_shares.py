"""The scrub keeps a partition expectation's shares only when they name the suite's own codes."""

from __future__ import annotations

import copy

from ikou.quality.results import scrub

PART = {"values": ["1", "2", "3"], "weights": [1 / 3, 1 / 3, 1 / 3]}


def _result(observed_values, type_="expect_column_kl_divergence_to_be_less_than"):
    return {
        "results": [
            {
                "expectation_config": {
                    "type": type_,
                    "kwargs": {"column": "ATENA-KBN", "partition_object": PART},
                },
                "result": {
                    "observed_value": 0.1,
                    "details": {
                        "observed_partition": {
                            "values": observed_values,
                            "weights": [1 / len(observed_values)] * len(observed_values),
                        },
                        "expected_partition": {
                            "values": observed_values,
                            "weights": [1 / len(observed_values)] * len(observed_values),
                        },
                    },
                },
                "exception_info": {"raised_exception": False},
            }
        ]
    }


def test_shares_of_the_code_list_are_kept_for_the_chart():
    out = scrub(_result(["1", "2", "3"]))
    details = out["results"][0]["result"]["details"]
    assert details["observed_partition"]["values"] == ["1", "2", "3"]
    assert abs(sum(details["observed_partition"]["weights"]) - 1) < 1e-9


def test_a_value_outside_the_code_list_drops_the_details():
    out = scrub(_result(["1", "2", "山田太郎"]))
    assert "details" not in out["results"][0]["result"]


def test_other_expectations_never_keep_details():
    out = scrub(_result(["1", "2", "3"], type_="expect_column_values_to_be_in_set"))
    assert "details" not in out["results"][0]["result"]


def test_extra_keys_in_a_partition_drop_the_details():
    r = _result(["1", "2", "3"])
    bad = copy.deepcopy(r)
    bad["results"][0]["result"]["details"]["observed_partition"]["rows"] = ["x"]
    assert "details" not in scrub(bad)["results"][0]["result"]
