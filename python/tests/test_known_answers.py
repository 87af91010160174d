"""The toy experiments the notebooks draw find what their comments promise, read through `cavern.open_run`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

import cavern


def test_steering_erasure_and_counterfactuals_on_toy_sentiment(make_run: Callable[[str], Path]) -> None:
    run = cavern.open_run(make_run("toy_steering_erasure"))
    summary = run.tables["steering_summary"]
    for layer in (0, 1):
        rates = summary.filter(pl.col("layer") == layer).sort("alpha")
        assert rates.filter(pl.col("alpha") <= 0)["flip_rate"].max() == 0.0
        up = rates.filter(pl.col("alpha") > 0)["flip_rate"].to_list()
        assert up == sorted(up) and up[-1] == 1.0, (layer, up)

    erasure = run.tables["erasure"]
    for row in erasure.filter(pl.col("method") == "leace").iter_rows(named=True):
        # The fresh probe is scored on the held-out 30 % of each class (60 texts here); at chance a
        # held-out accuracy has a standard error of sqrt(0.25 / 60) = 0.065: allow two of them.
        held_out = 2 * round(0.3 * row["n_per_class"])
        chance_band = 2 * (0.25 / held_out) ** 0.5
        assert row["probe_before"] > 0.85 and abs(row["probe_after"] - 0.5) <= chance_band, row

    swaps = run.tables["counterfactual_summary"]
    assert swaps.filter(pl.col("slot") == "neg")["flip_rate"].to_list() == [1.0, 1.0]
    assert swaps.filter(pl.col("slot").is_in(["noun", "colour"]))["flip_rate"].max() == 0.0


def test_integrated_gradients_single_out_the_negation(make_run: Callable[[str], Path]) -> None:
    attributions = cavern.open_run(make_run("toy_attributions_attention")).tables["attributions"]
    ig = attributions.filter((pl.col("method") == "integrated_gradients") & (pl.col("text") == "a blue book was not good"))
    assert ig.sort(pl.col("attribution").abs(), descending=True)["token"][0] == "not"


def test_toy_recall_head_1_1_reads_position_1(make_run: Callable[[str], Path]) -> None:
    pattern = cavern.open_run(make_run("toy_recall_attention")).tables["attention_pattern"]
    last = pattern.filter((pl.col("layer") == 1) & (pl.col("head") == 1) & (pl.col("query") == 6))
    assert last.sort("weight", descending=True)["key"][0] == 1
    assert last.filter(pl.col("key") == 1)["weight"][0] > 0.9
